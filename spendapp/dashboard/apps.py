from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "spendapp.dashboard"
    label = "dashboard"
    verbose_name = "Dashboard"
    default_auto_field = "django.db.models.BigAutoField"
