from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "spendapp.usage"
    label = "usage"
    verbose_name = "Usage and cost"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Providers' "Sync now" is a signal this app answers (providers sit below usage).
        from spendapp.usage import calibration, receivers, signals  # noqa: F401

        # Calibration ratios follow every change of spend, inside the writer's transaction.
        signals.spend_changed.connect(
            calibration.on_spend_changed, dispatch_uid="usage.calibration.refresh"
        )
