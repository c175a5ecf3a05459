"""The Celery app. Configuration comes from the CELERY_* Django settings."""

import os
from pathlib import Path

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendapp.settings")


class SpendappCelery(Celery):
    def _get_backend(self):
        # The result backend is Django's ORM (django-celery-results), which needs Django set
        # up. Worker and beat do that at start-up; `celery -A spendapp call ...` and plain
        # scripts do not, and failed with AppRegistryNotReady.
        from django.apps import apps

        if not apps.ready:
            import django

            django.setup()
        return super()._get_backend()


app = SpendappCelery("spendapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def ensure_broker_folders() -> None:
    """The filesystem transport needs its folders to exist before anyone sends a message."""
    options = app.conf.broker_transport_options or {}
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if key in options:
            Path(options[key]).mkdir(parents=True, exist_ok=True)
