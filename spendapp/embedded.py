"""The embedded default: a real PostgreSQL (the ``pgserver`` package) under ``var/``.

Used only when ``DATABASE_URL`` is unset. pgserver is safe to share between processes (a
second process attaches to the running server), but two of its behaviours need guarding:

* its reference counting of handles leaks after a SIGKILL, so it may never stop the server,
  or stop it under another process's feet. We therefore never let pgserver stop anything
  (``cleanup_mode=None``): the ``make run`` launcher stops PostgreSQL itself on exit, and
  ``make db-stop`` stops a server left running by tests or one-off commands;
* it treats "the PID in postmaster.pid is alive" as "our server is running". After a reboot
  or container restart that PID can belong to an unrelated process, which pgserver would then
  kill at exit. :func:`remove_stale_pidfile` deletes such a file before pgserver reads it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
DEFAULT_DB_NAME = "spendapp"


def var_dir() -> Path:
    return Path(os.environ.get("SPENDAPP_VAR_DIR") or BASE_DIR / "var").resolve()


def pgdata_dir() -> Path:
    return var_dir() / "pgdata"


def _is_our_postmaster(pid: int, pgdata: Path) -> bool:
    import psutil

    try:
        process = psutil.Process(pid)
        name = process.name()
        cmdline = " ".join(process.cmdline())
    except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
        return False
    return name.startswith("postgres") and str(pgdata) in cmdline


def remove_stale_pidfile(pgdata: Path) -> bool:
    """Delete ``postmaster.pid`` unless it names a live postgres serving ``pgdata``.

    Returns True when a stale file was removed.
    """
    pidfile = pgdata / "postmaster.pid"
    try:
        first_line = pidfile.read_text().splitlines()[0]
        pid = int(first_line.strip())
    except FileNotFoundError:
        return False
    except (IndexError, ValueError, OSError):
        pid = -1  # unreadable or truncated: certainly not a running server's file
    if pid > 0 and _is_our_postmaster(pid, pgdata):
        return False
    pidfile.unlink(missing_ok=True)
    return True


def _import_pgserver():
    with warnings.catch_warnings():
        # Without XDG_RUNTIME_DIR platformdirs falls back to /tmp/runtime-<uid> (where
        # pgserver keeps its lock file) and warns about it at import; the fallback is fine.
        warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")
        try:
            import pgserver
        except ImportError:
            from django.core.exceptions import ImproperlyConfigured

            raise ImproperlyConfigured(
                "DATABASE_URL: not set, and the embedded PostgreSQL is not installed. Set "
                "DATABASE_URL=postgresql://user@host:5432/db (production), or install the "
                "embedded default with `pip install -e '.[embedded]'` (what `make run` does)."
            ) from None
    return pgserver


def ensure_server(db_name: str = DEFAULT_DB_NAME):
    """Start (or attach to) the embedded server and make sure ``db_name`` exists.

    Returns ``(server, database_url)``. Never stops the server on exit.
    """
    import psycopg

    pgserver = _import_pgserver()
    pgdata = pgdata_dir()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    if pgdata.exists():
        remove_stale_pidfile(pgdata)
    server = pgserver.get_server(pgdata, cleanup_mode=None)
    with psycopg.connect(server.get_uri(), autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db_name]).fetchone()
        if not exists:
            conn.execute(f'CREATE DATABASE "{db_name}"')
    return server, server.get_uri(db_name)


def is_running() -> bool:
    _import_pgserver()  # first import of the package: its runtime-dir warning silenced
    from pgserver.utils import PostmasterInfo

    pgdata = pgdata_dir()
    if not pgdata.exists():
        return False
    remove_stale_pidfile(pgdata)
    info = PostmasterInfo.read_from_pgdata(pgdata)
    return info is not None and info.is_running()


def other_clients(url: str) -> int:
    """How many other sessions are connected (tests, shells) besides the caller's."""
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE backend_type = 'client backend' AND pid <> pg_backend_pid()"
        ).fetchone()
    return row[0]


def stop_server() -> bool:
    """Stop the embedded server if one is running for our data dir. Returns True if stopped."""
    pgserver = _import_pgserver()
    if not is_running():
        return False
    pgdata = pgdata_dir()
    user = "pgserver" if os.geteuid() == 0 else None
    pgserver.pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=user, timeout=30)
    return True


def database_settings(url: str) -> dict:
    """Django DATABASES entry from a ``postgresql://`` URL (socket dirs via ``?host=``)."""
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "postgresql+psycopg"}:
        raise ValueError(f"DATABASE_URL: expected a postgresql:// URL, got scheme {parts.scheme!r}")
    query = parse_qs(parts.query)
    name = unquote(parts.path.lstrip("/"))
    if not name:
        raise ValueError("DATABASE_URL: the URL names no database")
    host = query.pop("host", [parts.hostname or ""])[0]
    options = {key: values[-1] for key, values in query.items()}
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": name,
        "USER": unquote(parts.username or "postgres"),
        "PASSWORD": unquote(parts.password or ""),
        "HOST": host,
        "PORT": str(parts.port or ""),
        "OPTIONS": options,
    }
