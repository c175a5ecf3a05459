"""Spendapp settings. Every value comes from the environment; `.env.example` lists them all."""

from __future__ import annotations

import ipaddress
from datetime import timedelta
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from spendapp import embedded
from spendapp.env import (
    env_bool,
    env_currency,
    env_int,
    env_is_set,
    env_list,
    env_str,
    env_timezone,
    load_dotenv,
)

BASE_DIR = Path(__file__).resolve().parent.parent
load_dotenv(BASE_DIR / ".env")
VAR_DIR = embedded.var_dir()

DEBUG = env_bool("DEBUG", False)

# --- secrets ---------------------------------------------------------------------------------
_DEV_SECRET_KEY = "django-insecure-spendapp-development-only-never-use-in-production-0000"  # noqa: S105
SECRET_KEY = env_str("SECRET_KEY")
if not SECRET_KEY or SECRET_KEY == _DEV_SECRET_KEY or SECRET_KEY.startswith("change-me"):
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY: required when DEBUG is off (production). Generate one with "
            "`python -c 'import secrets; print(secrets.token_urlsafe(50))'`, "
            "or set DEBUG=1 for local development."
        )
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and len(SECRET_KEY) < 50:
    raise ImproperlyConfigured("SECRET_KEY: must be at least 50 characters in production")

# Fernet keys that encrypt provider API keys at rest. The first encrypts; all decrypt, so a
# new key can be put in front and the old one kept until `manage.py rotate_keys` has run.
FERNET_KEYS = env_list("FERNET_KEYS", [])
if not FERNET_KEYS and not DEBUG:
    raise ImproperlyConfigured(
        "FERNET_KEYS: required when DEBUG is off. Generate one with `python -c 'from "
        "cryptography.fernet import Fernet; print(Fernet.generate_key().decode())'`"
    )

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_str("SITE_URL", "http://127.0.0.1:8000").rstrip("/")

# --- applications ----------------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "django_celery_beat",
    "django_celery_results",
    "axes",
    "csp",
    "auditlog",
    "ninja",  # django-ninja: the API's Swagger UI assets (served from our static files)
    "spendapp.core",
    "spendapp.providers",
    "spendapp.usage",
    "spendapp.dashboard",
    "spendapp.budgets",
    "forecasting.runs",
    "spendapp.allocation",
    "spendapp.api",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Pages compress 3-4x (explorer tables); Django pads gzip output against BREACH.
    # WhiteNoise (below) serves static files precompressed and is not affected.
    "django.middleware.gzip.GZipMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # Every view needs a logged-in user unless it is marked @login_not_required.
    "django.contrib.auth.middleware.LoginRequiredMiddleware",
    # 400 for a NUL byte in any parameter; Cache-Control: private, no-store once logged in.
    "spendapp.core.middleware.RejectNulMiddleware",
    "spendapp.core.middleware.PrivateCacheMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Who changed a configuration row, for the audit log.
    "auditlog.middleware.AuditlogMiddleware",
    # Last, as django-axes asks: answers 429 while a login is locked out.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "spendapp.urls"
WSGI_APPLICATION = "spendapp.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "spendapp.core.context_processors.spendapp",
            ],
        },
    },
]

# --- database: PostgreSQL only ---------------------------------------------------------------
DATABASE_URL = env_str("DATABASE_URL")
if not DATABASE_URL:
    # Embedded default: start or attach to pgserver under var/, never stop it from here.
    _server, DATABASE_URL = embedded.ensure_server()
try:
    DATABASES = {"default": embedded.database_settings(DATABASE_URL)}
except ValueError as exc:
    raise ImproperlyConfigured(str(exc)) from None
# The password may come separately (DATABASE_PASSWORD or a DATABASE_PASSWORD_FILE secret), so
# any password works, even one with "/", "#" or "@" that would break a URL.
if env_is_set("DATABASE_PASSWORD"):
    DATABASES["default"]["PASSWORD"] = env_str("DATABASE_PASSWORD")
DATABASES["default"]["CONN_MAX_AGE"] = env_int("DATABASE_CONN_MAX_AGE", 60, min_value=0)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# Memory per sort or hash step of a query: a year of explorer rows groups in memory instead of
# spilling to disk at PostgreSQL's 4 MB default. Per connection and step, so keep it modest.
DATABASE_WORK_MEM_MB = env_int("DATABASE_WORK_MEM_MB", 32, min_value=1, max_value=4096)
_options = DATABASES["default"].setdefault("OPTIONS", {})
_options["options"] = f"{_options.get('options', '')} -c work_mem={DATABASE_WORK_MEM_MB}MB".strip()
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- auth ------------------------------------------------------------------------------------
AUTHENTICATION_BACKENDS = [
    # First: counts failed logins and refuses a locked-out username + address.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# django-axes: 5 wrong passwords for one username from one address lock that pair out for
# 15 minutes (429); each failure is logged (logger axes.handlers.database) and stored as an
# access attempt shown in the admin.
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5, min_value=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("AXES_COOLOFF_MINUTES", 15, min_value=1))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_IPWARE_PROXY_COUNT = 1 if env_bool("BEHIND_TLS_PROXY", False) else None
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "login"
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# --- organisation ----------------------------------------------------------------------------
# Storage and computation are in UTC; budget periods and the digest follow the org's zone.
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = False
USE_TZ = True
ORG_NAME = env_str("ORG_NAME", "Spendapp")
ORG_TIME_ZONE = env_timezone("ORG_TIME_ZONE", "UTC")
ORG_CURRENCY = env_currency("ORG_CURRENCY", "USD")

# --- provider APIs ---------------------------------------------------------------------------
# Every call has a timeout; 429/5xx/529/timeouts are retried with exponential backoff and
# jitter (honouring Retry-After up to PROVIDER_MAX_WAIT seconds).
PROVIDER_CONNECT_TIMEOUT = env_int("PROVIDER_CONNECT_TIMEOUT", 10, min_value=1)
PROVIDER_READ_TIMEOUT = env_int("PROVIDER_READ_TIMEOUT", 60, min_value=1)
PROVIDER_MAX_ATTEMPTS = env_int("PROVIDER_MAX_ATTEMPTS", 6, min_value=1, max_value=20)
PROVIDER_BACKOFF_BASE = env_int("PROVIDER_BACKOFF_BASE", 1, min_value=0)
PROVIDER_MAX_WAIT = env_int("PROVIDER_MAX_WAIT", 60, min_value=1)

# Alert admins when an enabled provider account has not synced successfully for this long.
ALERT_STALE_SYNC_HOURS = env_int("ALERT_STALE_SYNC_HOURS", 6, min_value=1)
# Alert Finance when a prepaid balance is forecast to run out within this many days.
CREDIT_RUNWAY_ALERT_DAYS = env_int("CREDIT_RUNWAY_ALERT_DAYS", 14, min_value=1)
# Days of hour-grain rollup kept for the explorer's hourly view (older hours: daily only).
HOURLY_ROLLUP_DAYS = env_int("HOURLY_ROLLUP_DAYS", 92, min_value=2)

# --- static files ----------------------------------------------------------------------------
STATIC_URL = "/static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = Path(env_str("STATIC_ROOT", str(VAR_DIR / "static"))).resolve()
# WhiteNoise serves everything under STATIC_ROOT: pointed at the code (or one of its parents)
# it would serve settings.py and .env. Refuse to start instead.
_CODE_DIRS = [BASE_DIR / "spendapp", BASE_DIR / "forecasting", BASE_DIR / "templates"]
if (
    STATIC_ROOT in BASE_DIR.parents
    or STATIC_ROOT == BASE_DIR
    or any(STATIC_ROOT.is_relative_to(d) for d in [*_CODE_DIRS, *STATICFILES_DIRS])
):
    raise ImproperlyConfigured(
        f"STATIC_ROOT: {STATIC_ROOT} is (or contains) the application's code; use a folder of "
        f"its own, such as {VAR_DIR / 'static'} (the default when STATIC_ROOT is unset)"
    )
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    # Hashed names + gzip/brotli; WhiteNoise then serves them with far-future cache headers.
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}
WHITENOISE_MAX_AGE = 31536000

# --- celery ----------------------------------------------------------------------------------
# "localhost": kombu warns "No hostname was supplied" on every connection without one.
CELERY_BROKER_URL = env_str("CELERY_BROKER_URL", "filesystem://localhost/")
CELERY_BROKER_TRANSPORT_OPTIONS: dict = {}
BROKER_DIR = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem"):
    # Server-less broker for the embedded default: one machine, polling, no redelivery after
    # a worker crash. Production sets CELERY_BROKER_URL to Redis or RabbitMQ.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "queue"),
        "data_folder_out": str(BROKER_DIR / "queue"),
        "processed_folder": str(BROKER_DIR / "processed"),
        "store_processed": False,
        "control_folder": str(BROKER_DIR / "control"),
        "polling_interval": 0.2,
    }
CELERY_RESULT_BACKEND = "django-db"
CELERY_RESULT_EXTENDED = True
CELERY_RESULT_EXPIRES = 7 * 24 * 3600
# django-celery-beat's DatabaseScheduler, plus a heartbeat file for the beat health check.
CELERY_BEAT_SCHEDULER = "spendapp.beat:HeartbeatScheduler"
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TRACK_STARTED = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A task is acknowledged when it has finished, not when it starts: a worker killed mid-task
# (OOM, `docker stop` past its grace period) leaves the message with the broker, which hands
# it to another worker. Every task is safe to run twice (syncs upsert under an advisory lock,
# alerts and notifications de-duplicate in the database). One message at a time per process,
# so a killed worker holds back no more than it was running.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
if CELERY_BROKER_URL.startswith("redis"):
    # Redis re-delivers an unacknowledged message after this long; it must exceed the longest
    # task, or a slow task would run twice at once.
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "visibility_timeout": env_int("CELERY_VISIBILITY_TIMEOUT", 3 * 3600, min_value=60)
    }

# --- email -----------------------------------------------------------------------------------
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "Spendapp <spendapp@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_HOST = env_str("EMAIL_HOST")
EMAIL_FILE_PATH = VAR_DIR / "mail"
if EMAIL_HOST:
    EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    EMAIL_PORT = env_int("EMAIL_PORT", 587, min_value=1, max_value=65535)
    EMAIL_HOST_USER = env_str("EMAIL_HOST_USER")
    EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD")
    EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", True)
    EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
    if EMAIL_USE_TLS and EMAIL_USE_SSL:
        raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL: set at most one of them")
    EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, min_value=1)
else:
    # Embedded default: every email is written as a file under var/mail/.
    EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"

# --- security (production: DEBUG off) --------------------------------------------------------
# Content-Security-Policy (django-csp), enforced: scripts and style sheets only from our own
# static files (Plotly included), no inline script, no eval. Style *attributes* stay allowed
# (chart colour swatches, tree indents); they cannot run code. The one hash is that of the
# empty string: Plotly adds an empty <style> element and fills it through the CSSOM
# (insertRule), which CSP permits; any inline style element with content stays blocked.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'", "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='"],
        "style-src-attr": ["'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
}
# The audit log (django-auditlog): who changed which configuration row, when, and what.
# Provider keys are never recorded (their ciphertext neither); `rotate_keys` logs a rotation.
AUDITLOG_INCLUDE_TRACKING_MODELS = (
    {"model": "providers.provideraccount", "exclude_fields": ["encrypted_key"]},
    {"model": "budgets.budget", "m2m_fields": {"notify_users", "notify_groups"}},
    "allocation.team",
    "allocation.allocationrule",
    "allocation.sharedcost",
    "allocation.sharedcostshare",
    "usage.priceoverride",
    "forecasting.scenario",
    {"model": "api.apitoken", "exclude_fields": ["digest"]},
)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
# gunicorn speaks plain HTTP only. HTTPS means a TLS proxy in front (the compose file's optional
# Caddy service) that sets X-Forwarded-Proto, and BEHIND_TLS_PROXY=1 to trust it. Without one,
# the site runs on plain HTTP (localhost or a private network): no redirect, no secure-only
# cookies, which no browser would send back over plain HTTP.
BEHIND_TLS_PROXY = env_bool("BEHIND_TLS_PROXY", False)
if BEHIND_TLS_PROXY:
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
if not DEBUG and BEHIND_TLS_PROXY:
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", True)
    SECURE_REDIRECT_EXEMPT = [r"^healthz$"]  # container health checks speak plain HTTP
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000, min_value=0)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
    SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
elif not DEBUG and env_bool("SECURE_SSL_REDIRECT", False):
    raise ImproperlyConfigured(
        "SECURE_SSL_REDIRECT: set BEHIND_TLS_PROXY=1 as well (and run a TLS proxy such as the "
        "compose file's caddy service), or set SECURE_SSL_REDIRECT=0. gunicorn serves plain "
        "HTTP only: without a trusted TLS proxy every page would redirect to an https URL that "
        "nothing serves, or loop."
    )

# Networks budget webhooks may reach although they are private (an internal chat server);
# loopback, private, link-local and metadata addresses are refused otherwise.
OUTBOUND_ALLOWED_NETWORKS = env_list("OUTBOUND_ALLOWED_NETWORKS", [])
for _network in OUTBOUND_ALLOWED_NETWORKS:
    try:
        ipaddress.ip_network(_network, strict=False)
    except ValueError:
        raise ImproperlyConfigured(
            f"OUTBOUND_ALLOWED_NETWORKS: {_network!r} is not a network such as 10.20.0.0/16"
        ) from None

# --- logging ---------------------------------------------------------------------------------
LOG_LEVEL = env_str("LOG_LEVEL", "INFO").upper()
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        # Provider keys never reach a log line, whoever logs them.
        "scrub_keys": {"()": "spendapp.providers.connectors.logfilter.KeyScrubbingFilter"},
    },
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "plain",
            "filters": ["scrub_keys"],
        },
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "httpx": {"level": "WARNING"},
        "httpcore": {"level": "WARNING"},
        "pgserver": {"level": "WARNING"},
        # Each failed login is a WARNING; its INFO lines (a reset per login) are noise.
        "axes": {"level": "WARNING"},
    },
}
