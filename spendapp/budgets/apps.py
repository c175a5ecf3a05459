from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    name = "spendapp.budgets"
    label = "budgets"
    verbose_name = "Budgets and alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # Changed spend (a sync, a FOCUS import) queues an evaluation after the commit.
        from spendapp.budgets import receivers  # noqa: F401
