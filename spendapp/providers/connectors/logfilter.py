"""Keep provider keys out of log output.

``KeyScrubbingFilter`` is meant to be installed globally (on the root handlers in ``LOGGING``).
It rewrites a record's message, its arguments, the formatted traceback and the stack info so
that nothing that looks like a provider key reaches a handler:

* OpenAI / Anthropic keys: ``sk-...``, ``sk-proj-...``, ``sk-admin-...``, ``sk-ant-...``,
  ``sk-ant-admin01-...`` (the recognisable prefix is kept, the secret part is replaced);
* any long token after ``Bearer `` or after ``x-api-key`` (``x-api-key: ...``,
  ``'x-api-key': '...'``, ``x-api-key=...``);
* any exact secret registered with :func:`register_secret` (connectors register the key they
  were given, so even a key of an unusual shape is scrubbed).

:func:`scrub` is the same transformation for plain strings (used for provider error messages
before they go into an exception).
"""

from __future__ import annotations

import logging
import re
import threading

REDACTED = "***"

_KEY_RE = re.compile(
    r"\b(sk-(?:ant-(?:admin\d*-|api\d*-|oat\d*-)?|admin-|proj-|svcacct-|or-v\d+-)?)"
    r"[A-Za-z0-9_\-]{6,}"
)
_BEARER_RE = re.compile(r"(?i)(\bbearer\s+)[A-Za-z0-9._~+/=\-]{8,}")
_X_API_KEY_RE = re.compile(r"""(?i)(x-api-key['"]?\s*[:=,]\s*(?:b?['"])?)[^\s'",}\]\)&;]{8,}""")

# Exact secrets seen by this process (connector keys). Bounded so a long-running worker that
# rotates keys cannot grow it without limit; the oldest entries are dropped first.
_MAX_SECRETS = 256
_secrets: dict[str, None] = {}
_lock = threading.Lock()


def register_secret(secret: str) -> None:
    """Scrub this exact string from every log record and :func:`scrub` result from now on."""
    if not secret or len(secret) < 8:
        return
    with _lock:
        _secrets.pop(secret, None)
        _secrets[secret] = None
        while len(_secrets) > _MAX_SECRETS:
            _secrets.pop(next(iter(_secrets)))


def scrub(text: str, extra: tuple[str, ...] = ()) -> str:
    """Return ``text`` with anything that looks like a provider key replaced by ``***``."""
    if not text:
        return text
    with _lock:
        exact = [*extra, *_secrets]
    for secret in exact:
        if secret and len(secret) >= 8 and secret in text:
            text = text.replace(secret, REDACTED)
    text = _KEY_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _BEARER_RE.sub(lambda m: m.group(1) + REDACTED, text)
    text = _X_API_KEY_RE.sub(lambda m: m.group(1) + REDACTED, text)
    return text


def _scrub_arg(value: object) -> object:
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, (int, float, bool)) or value is None:
        return value  # keeps %d / %.2f formatting working
    try:
        text = str(value)
    except Exception:  # a broken __str__ must not break logging
        return value
    cleaned = scrub(text)
    return value if cleaned == text else cleaned


class KeyScrubbingFilter(logging.Filter):
    """A logging filter that never drops a record, only scrubs secrets out of it."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            if isinstance(record.msg, str):
                record.msg = scrub(record.msg)
            elif record.msg is not None and not isinstance(record.msg, (int, float)):
                text = str(record.msg)
                cleaned = scrub(text)
                if cleaned != text:
                    record.msg = cleaned
            args = record.args
            if isinstance(args, tuple):
                record.args = tuple(_scrub_arg(a) for a in args)
            elif isinstance(args, dict):
                record.args = {k: _scrub_arg(v) for k, v in args.items()}
            if record.exc_info and record.exc_info[0] is not None and not record.exc_text:
                # Format the traceback now so the handler's formatter reuses the scrubbed text.
                record.exc_text = self._formatter.formatException(record.exc_info)
            if record.exc_text:
                record.exc_text = scrub(record.exc_text)
            if record.stack_info:
                record.stack_info = scrub(record.stack_info)
        except Exception:  # never lose a log record because of the filter
            return True
        return True
