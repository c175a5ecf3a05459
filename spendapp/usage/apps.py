from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "spendapp.usage"
    label = "usage"
    verbose_name = "Usage and cost"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from spendapp.usage import calibration, signals

        # Calibration ratios follow every change of spend, inside the writer's transaction.
        signals.spend_changed.connect(
            calibration.on_spend_changed, dispatch_uid="usage.calibration.refresh"
        )
