"""Queue a Celery task once for a burst of triggers (the windows of one sync, say)."""

from __future__ import annotations

from django.core.cache import cache

EXPIRES = 55 * 60  # a queued run older than this is dropped: the hourly schedule follows


def queue_once(key: str, task, delay: int) -> bool:
    """Queue ``task`` to run in ``delay`` seconds unless one queued under ``key`` is still
    waiting; whether this call queued it. The cache add is atomic, so triggers racing each
    other queue one run."""
    if not cache.add(key, True, timeout=delay):
        return False
    task.apply_async(countdown=delay, expires=EXPIRES)
    return True
