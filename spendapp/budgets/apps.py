from django.apps import AppConfig


class BudgetsConfig(AppConfig):
    name = "spendapp.budgets"
    label = "budgets"
    verbose_name = "Budgets and alerts"
    default_auto_field = "django.db.models.BigAutoField"
