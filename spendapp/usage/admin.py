from django.contrib import admin

from spendapp.usage.admin_import import ImportCostsAdminMixin
from spendapp.usage.credit_forms import CreditEntryForm, ExchangeRateForm
from spendapp.usage.models import (
    CreditBalance,
    CreditEntry,
    ExchangeRate,
    ModelTier,
    ModelTierOverride,
    PriceOverride,
    SyncRun,
)


@admin.register(SyncRun)
class SyncRunAdmin(ImportCostsAdminMixin, admin.ModelAdmin):
    # Adds the "Import FOCUS costs" button and /admin/usage/syncrun/import-costs/.
    change_list_template = "admin/usage/syncrun/change_list.html"
    # Few, short columns: with the filter sidebar the list fits a laptop screen.
    list_display = [
        "account",
        "started_at",
        "outcome",
        "windows_done",
        "rows",
        "duration",
        "trigger",
    ]
    list_filter = ["outcome", "account", "trigger"]
    date_hierarchy = "started_at"

    @admin.display(description="Windows")
    def windows_done(self, run):
        return f"{run.windows} ({run.windows_failed} failed)" if run.windows_failed else run.windows

    @admin.display(description="Rows")
    def rows(self, run):
        return f"{run.rows_inserted:,} new, {run.rows_updated:,} updated"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PriceOverride)
class PriceOverrideAdmin(admin.ModelAdmin):
    list_display = [
        "provider",
        "model_pattern",
        "valid_from",
        "valid_until",
        "input_per_mtok",
        "cached_input_per_mtok",
        "output_per_mtok",
        "note",
    ]
    list_filter = ["provider"]


@admin.register(ModelTier)
class ModelTierAdmin(admin.ModelAdmin):
    list_display = ["name", "max_blended_per_mtok", "note"]
    list_editable = ["max_blended_per_mtok"]


@admin.register(ModelTierOverride)
class ModelTierOverrideAdmin(admin.ModelAdmin):
    list_display = ["provider", "model_pattern", "tier", "note"]
    list_filter = ["provider", "tier"]


@admin.register(CreditBalance)
class CreditBalanceAdmin(admin.ModelAdmin):
    """Balances as the providers reported them at each sync: read only."""

    list_display = ["account", "observed_at", "currency", "amount", "granted", "topped_up"]
    list_filter = ["account", "currency"]
    date_hierarchy = "observed_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(CreditEntry)
class CreditEntryAdmin(admin.ModelAdmin):
    form = CreditEntryForm
    list_display = ["account", "kind", "day", "amount", "currency", "note", "created_by"]
    list_filter = ["account", "kind"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(ExchangeRate)
class ExchangeRateAdmin(admin.ModelAdmin):
    form = ExchangeRateForm
    list_display = ["currency", "rate", "valid_from", "note", "created_by"]

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)
