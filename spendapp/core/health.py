"""Readiness checks behind /healthz: each returns None when healthy, else a short reason.

/healthz answers anyone, so a reason is a fixed phrase; the driver's text (host, port, role,
paths) goes to the log only.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from django.conf import settings
from django.db import connection

log = logging.getLogger(__name__)


def check_database() -> str | None:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:  # any driver error means "not ready"; the detail is logged
        log.warning("healthz: the database check failed", exc_info=True)
        return "cannot reach the database"
    return None


def check_broker() -> str | None:
    url = settings.CELERY_BROKER_URL
    if url.startswith("filesystem"):
        # No server to ping: the broker is healthy when its folders exist and are writable.
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        for key in ("data_folder_in", "control_folder"):
            folder = Path(options[key])
            if not folder.is_dir() or not os.access(folder, os.W_OK):
                log.warning("healthz: broker folder %s is missing or not writable", folder)
                return "a broker folder is missing or not writable"
        return None
    from kombu import Connection

    try:
        with Connection(url, connect_timeout=2) as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
    except Exception:  # kombu raises transport-specific errors
        log.warning("healthz: the broker check failed", exc_info=True)
        return "cannot reach the broker"
    return None
