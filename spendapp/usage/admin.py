from django.contrib import admin

from spendapp.usage.admin_import import ImportCostsAdminMixin
from spendapp.usage.models import ModelTier, ModelTierOverride, PriceOverride, SyncRun


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
