from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "spendapp.usage"
    label = "usage"
    verbose_name = "Usage and cost"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Providers' "Sync now" is a signal this app answers (providers sit below usage).
        # (Calibration ratios and stored spend are brought up to date by the announcement of
        # changed spend itself, `spendapp.usage.signals.announce_spend_changed`.)
        from spendapp.usage import receivers  # noqa: F401
