"""Budget evaluation and the weekly digest as beat schedule rows, editable in the admin.

Evaluation also runs after every successful sync; the hourly run catches budgets with no new
data (forecast alerts, period changes), stale provider accounts and unqueued notifications.
The digest task runs hourly and sends only once, on Monday morning in ORG_TIME_ZONE, so a
change of time zone or DST needs no schedule change.
"""

from django.db import migrations

SCHEDULES = {
    "Evaluate budgets and alerts": (
        "spendapp.budgets.tasks.evaluate_budgets",
        "Budget thresholds, forecast and anomaly alerts; provider accounts needing attention.",
    ),
    "Weekly budget digest": (
        "spendapp.budgets.tasks.send_weekly_digest",
        "Sends the Finance digest once, on Monday from 07:00 in the organisation's time zone.",
    ),
}


def create_schedules(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every_hour, _ = interval_model.objects.get_or_create(every=1, period="hours")
    for name, (task, description) in SCHEDULES.items():
        task_model.objects.get_or_create(
            name=name,
            defaults={
                "task": task,
                "interval": every_hour,
                "expire_seconds": 55 * 60,
                "description": description,
            },
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=list(SCHEDULES)
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("budgets", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
