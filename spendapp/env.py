"""Typed readers for settings from the environment.

Each reader fails loudly, naming the variable, instead of guessing: a typo in ``DEBUG`` or a
port of ``80a`` stops the process at start-up with a message that says what to fix. Secrets
also accept a ``NAME_FILE`` variant pointing at a file (Docker secrets).

An empty value means "unset" everywhere: docker compose's ``env_file`` passes ``NAME=`` lines
of ``.env.example`` as empty strings, and those must give the default (or the ``NAME_FILE``
secret), never an empty path, list or URL.
"""

from __future__ import annotations

import os
import zoneinfo
from collections.abc import Mapping
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _raw(name: str, env: Mapping[str, str] | None) -> str | None:
    """The variable's value, else the content of the file ``NAME_FILE`` names, else None.

    Empty or blank values count as unset, for ``NAME`` and ``NAME_FILE`` alike.
    """
    env = os.environ if env is None else env
    value = env.get(name)
    if value is not None and value.strip():
        return value
    file_name = (env.get(f"{name}_FILE") or "").strip()
    if not file_name:
        return None
    path = Path(file_name)
    try:
        value = path.read_text().strip()
    except OSError as exc:
        raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
    if not value:
        raise ImproperlyConfigured(f"{name}_FILE: {path} is empty")
    return value


def env_is_set(name: str, *, env: Mapping[str, str] | None = None) -> bool:
    """True when ``name`` (or ``NAME_FILE``) gives a non-empty value."""
    return _raw(name, env) is not None


def env_str(name: str, default: str = "", *, env: Mapping[str, str] | None = None) -> str:
    value = _raw(name, env)
    return default if value is None else value


def env_bool(name: str, default: bool = False, *, env: Mapping[str, str] | None = None) -> bool:
    value = _raw(name, env)
    if value is None:
        return default
    lowered = value.strip().lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    raise ImproperlyConfigured(
        f"{name}: expected a boolean (1/0, true/false, yes/no), got {value!r}"
    )


def env_int(
    name: str,
    default: int,
    *,
    min_value: int | None = None,
    max_value: int | None = None,
    env: Mapping[str, str] | None = None,
) -> int:
    value = _raw(name, env)
    if value is None:
        return default
    try:
        number = int(value.strip())
    except ValueError:
        raise ImproperlyConfigured(f"{name}: expected a whole number, got {value!r}") from None
    if min_value is not None and number < min_value:
        raise ImproperlyConfigured(f"{name}: must be at least {min_value}, got {number}")
    if max_value is not None and number > max_value:
        raise ImproperlyConfigured(f"{name}: must be at most {max_value}, got {number}")
    return number


def env_list(name: str, default: list[str], *, env: Mapping[str, str] | None = None) -> list[str]:
    value = _raw(name, env)
    if value is None:
        return list(default)
    return [item.strip() for item in value.split(",") if item.strip()]


def env_timezone(name: str, default: str, *, env: Mapping[str, str] | None = None) -> str:
    value = env_str(name, default, env=env).strip()
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        raise ImproperlyConfigured(
            f"{name}: unknown time zone {value!r} (use an IANA name such as Europe/Paris)"
        ) from None
    return value


def env_currency(name: str, default: str, *, env: Mapping[str, str] | None = None) -> str:
    value = env_str(name, default, env=env).strip().upper()
    if len(value) != 3 or not value.isalpha():
        raise ImproperlyConfigured(
            f"{name}: expected a 3-letter ISO 4217 code such as USD, got {value!r}"
        )
    return value


def env_choice(
    name: str, default: str, choices: tuple[str, ...], *, env: Mapping[str, str] | None = None
) -> str:
    value = env_str(name, default, env=env).strip().lower()
    if value not in choices:
        raise ImproperlyConfigured(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def load_dotenv(path: Path) -> None:
    """Read ``KEY=value`` lines from ``path`` into os.environ; real variables win.

    Only the plain subset of the format: comments, blank lines, optional quotes. Enough for
    ``.env.example``-style files; anything cleverer belongs in the process manager.
    """
    try:
        lines = path.read_text().splitlines()
    except FileNotFoundError:
        return
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if "=" not in stripped:
            raise ImproperlyConfigured(f"{path}:{number}: expected KEY=value, got {stripped!r}")
        key, value = stripped.split("=", 1)
        key = key.removeprefix("export ").strip()
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        os.environ.setdefault(key, value)
