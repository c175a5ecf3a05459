from django.apps import AppConfig


class AllocationConfig(AppConfig):
    name = "spendapp.allocation"
    label = "allocation"
    verbose_name = "Cost allocation (showback / chargeback)"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Rule, team and shared-cost changes schedule a recompute of the periods they touch.
        from spendapp.allocation import signals  # noqa: F401
