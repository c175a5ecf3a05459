"""The hourly sync as a beat schedule row, so admins can change it in the admin."""

from django.db import migrations

TASK_NAME = "Sync all provider accounts"


def create_schedule(apps, schema_editor):
    interval_model = apps.get_model("django_celery_beat", "IntervalSchedule")
    task_model = apps.get_model("django_celery_beat", "PeriodicTask")
    every_hour, _ = interval_model.objects.get_or_create(every=1, period="hours")
    task_model.objects.get_or_create(
        name=TASK_NAME,
        defaults={
            "task": "spendapp.usage.tasks.sync_all_accounts",
            "interval": every_hour,
            "expire_seconds": 55 * 60,
            "description": "Pull usage and billing from every enabled provider account.",
        },
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=TASK_NAME).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create_schedule, remove_schedule)]
