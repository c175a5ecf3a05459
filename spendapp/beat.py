"""celery beat's scheduler: django-celery-beat's, plus a heartbeat for the health check."""

from __future__ import annotations

from django_celery_beat.schedulers import DatabaseScheduler

from spendapp.heartbeat import touch_beat_heartbeat


class HeartbeatScheduler(DatabaseScheduler):
    """Schedules stored in PostgreSQL (editable in the admin); each tick leaves a heartbeat.

    beat calls ``tick`` at least every ``beat_max_loop_interval`` (5 s for this scheduler),
    so a heartbeat older than a minute means beat is stuck.
    """

    def tick(self, *args, **kwargs):
        touch_beat_heartbeat()
        return super().tick(*args, **kwargs)
