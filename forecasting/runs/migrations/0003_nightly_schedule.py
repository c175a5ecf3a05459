"""The nightly forecast run and the forecast-vs-actual check as beat schedule rows.

02:30 UTC: after the hourly syncs around midnight have settled the previous UTC day (they
re-read two days, so revisions are in). The check runs again at 14:30 so that runs are
scored against the day's syncs without waiting for the next night. Both expire well before
their next occurrence, so a backlog never runs them twice.
"""

from django.db import migrations

SCHEDULES = [
    {
        "name": "Nightly forecast run",
        "task": "forecasting.runs.tasks.run_forecasts_task",
        "hour": "2",
        "expire_seconds": 20 * 3600,
        "description": "Check past forecasts, then forecast every series and the total.",
    },
    {
        "name": "Forecast vs actual check",
        "task": "forecasting.runs.tasks.check_forecasts_task",
        "hour": "14",
        "expire_seconds": 11 * 3600,
        "description": "Compare stored forecasts with the actuals synced since.",
    },
]


def create_schedules(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    for item in SCHEDULES:
        crontab, _ = crontab_model.objects.get_or_create(
            minute="30",
            hour=item["hour"],
            day_of_week="*",
            day_of_month="*",
            month_of_year="*",
            timezone="UTC",
        )
        task_model.objects.get_or_create(
            name=item["name"],
            defaults={
                "task": item["task"],
                "crontab": crontab,
                "expire_seconds": item["expire_seconds"],
                "description": item["description"],
            },
        )


def remove_schedules(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(
        name__in=[item["name"] for item in SCHEDULES]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("forecasting", "0002_default_tiers"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedules, remove_schedules)]
