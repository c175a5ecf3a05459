from django.contrib import admin

from forecasting.runs.models import (
    ForecastCheck,
    ForecastRun,
    Scenario,
    SeriesForecast,
)


class ReadOnlyAdmin(admin.ModelAdmin):
    """Runs are written by the forecasting code only; the admin shows them."""

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class SeriesInline(admin.TabularInline):
    model = SeriesForecast
    fields = ["provider", "model", "project_id", "measure", "chosen_model", "horizon_total"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ForecastRun)
class ForecastRunAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "kind", "as_of", "horizon", "status", "trigger", "duration"]
    list_filter = ["kind", "status", "trigger"]
    date_hierarchy = "created_at"
    inlines = [SeriesInline]


@admin.register(SeriesForecast)
class SeriesForecastAdmin(ReadOnlyAdmin):
    list_display = ["run", "provider", "model", "project_id", "measure", "chosen_model"]
    list_filter = ["measure", "provider"]
    search_fields = ["model", "project_id", "chosen_model"]


@admin.register(ForecastCheck)
class ForecastCheckAdmin(ReadOnlyAdmin):
    list_display = ["series", "days_compared", "mae", "mase", "hit_rate_80", "hit_rate_95"]


@admin.register(Scenario)
class ScenarioAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "owner", "updated_at"]
    readonly_fields = ["slug", "created_at", "updated_at"]
    search_fields = ["name", "notes"]
