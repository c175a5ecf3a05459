""".env.example, filled in as the README says, read by the settings exactly as compose passes it.

compose's env_file turns every ``NAME=`` line into an empty string that overrides the image's
ENV; each empty value must mean "unset", and secrets must come from the compose secrets.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.production.compose import (
    BASE_DIR,
    Container,
    read_compose,
    read_dockerfile,
    read_env_file,
    service_environment,
)

SECRET_KEY = "s" * 30 + "-walked-through-env-example-0123456789"
FERNET_KEY = "0Pq8YtH5y4B4oxTEfm0qErGd4Jd7TnWcF1XqPDtGfWk="
# What `openssl rand -base64` gives, plus the characters that break a URL.
DB_PASSWORD = "abc/def+g==#x@y:z?"

SHOW_SETTINGS = """
import json
from django.conf import settings as s
db = s.DATABASES["default"]
print(json.dumps({
    "DEBUG": s.DEBUG, "SECRET_KEY": s.SECRET_KEY, "FERNET_KEYS": s.FERNET_KEYS,
    "db": [db["NAME"], db["USER"], db["PASSWORD"], db["HOST"], db["PORT"]],
    "STATIC_ROOT": str(s.STATIC_ROOT), "BROKER": s.CELERY_BROKER_URL,
    "SSL_REDIRECT": s.SECURE_SSL_REDIRECT, "SECURE_COOKIES": s.SESSION_COOKIE_SECURE,
    "PROXY_HEADER": s.SECURE_PROXY_SSL_HEADER, "EMAIL_BACKEND": s.EMAIL_BACKEND,
    "EMAIL_FILE_PATH": str(s.EMAIL_FILE_PATH), "ALLOWED_HOSTS": s.ALLOWED_HOSTS,
    "ACKS_LATE": s.CELERY_TASK_ACKS_LATE, "REJECT": s.CELERY_TASK_REJECT_ON_WORKER_LOST,
}))
"""


@pytest.fixture
def secrets_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "secrets"
    folder.mkdir()
    (folder / "secret_key").write_text(SECRET_KEY + "\n")
    (folder / "fernet_keys").write_text(FERNET_KEY + "\n")
    (folder / "postgres_password").write_text(DB_PASSWORD + "\n")
    return folder


def _service_env(secrets_dir: Path, service: str, **edits: str) -> dict[str, str]:
    dotenv = read_env_file(BASE_DIR / ".env.example")
    dotenv.update(edits)
    box = Container(app_dir=BASE_DIR, secrets_dir=secrets_dir)
    compose = read_compose(dotenv)
    return service_environment(compose, read_dockerfile(), service, dotenv, box)


def _run(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    base = {k: os.environ[k] for k in ("PATH", "HOME") if k in os.environ}
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env={**base, "DJANGO_SETTINGS_MODULE": "spendapp.settings", **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def _settings(env: dict[str, str]) -> dict:
    result = _run(env, "-c", SHOW_SETTINGS)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_the_example_leaves_nothing_empty_that_overrides_a_default(secrets_dir):
    env = _service_env(secrets_dir, "web")
    assert env["STATIC_ROOT"] != "" and env["SECRET_KEY"] == ""  # as compose passes them
    seen = _settings(env)
    assert seen["DEBUG"] is False
    assert seen["STATIC_ROOT"] == str(BASE_DIR / "staticfiles")  # where the image collected
    assert seen["BROKER"] == "redis://redis:6379/0"
    assert seen["ALLOWED_HOSTS"] == ["localhost", "127.0.0.1"]
    assert seen["EMAIL_BACKEND"].endswith("filebased.EmailBackend")
    assert seen["EMAIL_FILE_PATH"] == str(BASE_DIR / "var" / "mail")  # the maildata volume


def test_secrets_come_from_the_compose_secret_files(secrets_dir):
    seen = _settings(_service_env(secrets_dir, "worker"))
    assert seen["SECRET_KEY"] == SECRET_KEY
    assert seen["FERNET_KEYS"] == [FERNET_KEY]


def test_any_database_password_works_because_it_never_enters_the_url(secrets_dir):
    seen = _settings(_service_env(secrets_dir, "migrate"))
    assert seen["db"] == ["spendapp", "spendapp", DB_PASSWORD, "postgres", "5432"]


def test_the_default_is_plain_http_without_a_redirect_or_secure_only_cookies(secrets_dir):
    seen = _settings(_service_env(secrets_dir, "web"))
    assert (seen["SSL_REDIRECT"], seen["SECURE_COOKIES"], seen["PROXY_HEADER"]) == (
        False,
        False,
        None,
    )


def test_behind_the_tls_proxy_https_is_enforced_and_check_deploy_is_clean(secrets_dir):
    env = _service_env(
        secrets_dir,
        "web",
        BEHIND_TLS_PROXY="1",
        TLS_DOMAIN="spend.example.com",
        SITE_URL="https://spend.example.com",
        ALLOWED_HOSTS="spend.example.com",
    )
    seen = _settings(env)
    assert seen["SSL_REDIRECT"] is True and seen["SECURE_COOKIES"] is True
    assert seen["PROXY_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    result = _run(env, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_a_redirect_to_https_without_a_tls_proxy_is_refused(secrets_dir):
    result = _run(_service_env(secrets_dir, "web", SECURE_SSL_REDIRECT="1"), "-c", SHOW_SETTINGS)
    assert result.returncode != 0
    assert "SECURE_SSL_REDIRECT: set BEHIND_TLS_PROXY=1" in result.stderr


@pytest.mark.parametrize("folder", [".", "", "spendapp", "/", "static/css"])
def test_static_root_can_never_be_the_code_folder(secrets_dir, folder):
    env = _service_env(secrets_dir, "web")
    env["STATIC_ROOT"] = str(BASE_DIR / folder) if folder not in {"", "/"} else folder
    result = _run(env, "-c", SHOW_SETTINGS)
    if folder == "":  # empty is unset: the default folder of its own
        assert json.loads(result.stdout)["STATIC_ROOT"] == str(BASE_DIR / "var" / "static")
        return
    assert result.returncode != 0
    assert "STATIC_ROOT:" in result.stderr and "application's code" in result.stderr


def test_the_worker_acknowledges_a_task_only_when_it_is_done(secrets_dir):
    seen = _settings(_service_env(secrets_dir, "worker"))
    assert seen["ACKS_LATE"] is True and seen["REJECT"] is True
