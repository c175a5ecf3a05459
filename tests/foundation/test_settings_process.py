"""Settings as a fresh process sees them: production refuses to start without real secrets."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from django.conf import settings

BASE_DIR = Path(__file__).resolve().parents[2]
GOOD_SECRET = "x" * 20 + "-production-secret-key-for-tests-only-0123456789"
GOOD_FERNET = "0Pq8YtH5y4B4oxTEfm0qErGd4Jd7TnWcF1XqPDtGfWk="


def _database_url() -> str:
    db = settings.DATABASES["default"]
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"


def _run(args: list[str], **overrides: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in {"DEBUG", "SECRET_KEY", "FERNET_KEYS"}}
    env["DATABASE_URL"] = _database_url()
    env.update(overrides)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_refuses_to_start_without_a_secret_key():
    result = _run(["check"], DEBUG="0")
    assert result.returncode != 0
    assert "SECRET_KEY: required when DEBUG is off" in result.stderr


def test_production_refuses_the_example_secret_key():
    result = _run(["check"], DEBUG="0", SECRET_KEY="change-me", FERNET_KEYS=GOOD_FERNET)
    assert result.returncode != 0
    assert "SECRET_KEY: required when DEBUG is off" in result.stderr


def test_production_requires_fernet_keys():
    result = _run(["check"], DEBUG="0", SECRET_KEY=GOOD_SECRET)
    assert result.returncode != 0
    assert "FERNET_KEYS: required when DEBUG is off" in result.stderr


def test_a_bad_value_stops_start_up_with_the_variable_named():
    result = _run(["check"], DEBUG="1", ORG_TIME_ZONE="Not/AZone")
    assert result.returncode != 0
    assert "ORG_TIME_ZONE: unknown time zone 'Not/AZone'" in result.stderr


def test_a_non_postgres_database_url_is_refused():
    result = _run(["check"], DEBUG="1", DATABASE_URL="sqlite:///db.sqlite3")
    assert result.returncode != 0
    assert "DATABASE_URL: expected a postgresql:// URL" in result.stderr


def test_check_deploy_is_clean_with_production_settings_behind_a_tls_proxy():
    result = _run(
        ["check", "--deploy", "--fail-level", "WARNING"],
        DEBUG="0",
        SECRET_KEY=GOOD_SECRET,
        FERNET_KEYS=GOOD_FERNET,
        ALLOWED_HOSTS="spend.example.com",
        BEHIND_TLS_PROXY="1",  # production with HTTPS: the TLS proxy in front is trusted
    )
    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout
