from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "spendapp.core"
    label = "core"
    verbose_name = "Spendapp core"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from spendapp.celery import ensure_broker_folders

        ensure_broker_folders()
