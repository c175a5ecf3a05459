"""A logging filter that scrubs anything that looks like a provider API key."""

from __future__ import annotations

import logging
import re

# sk-..., sk-admin-..., sk-ant-admin01-..., sk-proj-...: provider key shapes; and whatever
# follows an auth header name, whatever its shape.
_KEY_PATTERNS = [
    re.compile(r"\bsk-[A-Za-z0-9_\-]{8,}"),
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9_\-\.=]{8,}"),
    re.compile(r"(?i)(x-api-key['\"]?\s*[:=]\s*['\"]?)[A-Za-z0-9_\-\.=]{8,}"),
]
REDACTED = "[REDACTED]"


def scrub(text: str) -> str:
    for pattern in _KEY_PATTERNS:
        text = pattern.sub(lambda m: (m.group(1) if m.groups() else "") + REDACTED, text)
    return text


class KeyScrubbingFilter(logging.Filter):
    """Rewrites the record's message (args included) with keys replaced by ``[REDACTED]``."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string must not lose the record
            message = str(record.msg)
        scrubbed = scrub(message)
        if scrubbed != message or record.args:
            record.msg, record.args = scrubbed, None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        return True
