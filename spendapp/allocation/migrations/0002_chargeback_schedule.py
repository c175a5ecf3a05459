"""The monthly chargeback email as a beat schedule row, editable in the admin.

It runs at 07:00 in ORG_TIME_ZONE on each of the first seven days of the month; the task
itself sends only on the first working day (Mon-Fri), and at most once per team and month.
"""

from django.conf import settings
from django.db import migrations

TASK_NAME = "Monthly chargeback emails"


def create_schedule(apps, schema_editor):
    crontab_model = apps.get_model("django_celery_beat", "CrontabSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    mornings, _ = crontab_model.objects.get_or_create(
        minute="0",
        hour="7",
        day_of_week="*",
        day_of_month="1-7",
        month_of_year="*",
        timezone=settings.ORG_TIME_ZONE,
    )
    task_model.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "spendapp.allocation.tasks.send_monthly_chargeback",
            "crontab": mornings,
            "expire_seconds": 12 * 3600,
            "description": "Email last month's chargeback report to every team owner on the "
            "first working day of the month.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("allocation", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
