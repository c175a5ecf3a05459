from django import forms
from django.contrib import admin, messages

from spendapp.allocation.engine import preview_rule
from spendapp.allocation.forms import HUNDRED
from spendapp.allocation.models import (
    AllocationRule,
    ChargebackEmail,
    SharedCost,
    SharedCostShare,
    Team,
)


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "kind", "parent", "code", "owner_email"]
    list_filter = ["kind"]
    search_fields = ["name", "code", "owner_email"]


@admin.register(AllocationRule)
class AllocationRuleAdmin(admin.ModelAdmin):
    list_display = [
        "__str__",
        "dimension",
        "value",
        "account",
        "team",
        "shared_cost",
        "priority",
        "valid_from",
        "valid_until",
    ]
    list_filter = ["dimension", "team", "shared_cost", "account"]
    search_fields = ["value", "note", "team__name"]

    def save_model(self, request, obj, form, change):
        # Validated by the model's clean() (overlaps); the preview runs against the rules
        # before this save, so it reports exactly what the save moves.
        preview = preview_rule(obj)
        super().save_model(request, obj, form, change)
        messages.info(
            request,
            f"This rule moves {preview.estimated_cost:,.2f} (estimated) of "
            f"{preview.date_from:%B %Y}; the allocation is being recomputed. Use the "
            f"Finance page (/allocation/) to preview before saving.",
        )


class SharesFormSet(forms.BaseInlineFormSet):
    def clean(self):
        super().clean()
        method = self.instance.method
        live = [
            f.cleaned_data
            for f in self.forms
            if f.cleaned_data and not f.cleaned_data.get("DELETE", False)
        ]
        if not live:
            raise forms.ValidationError("List at least one participating team.")
        if method == SharedCost.Method.FIXED:
            total = sum(d.get("percent") or 0 for d in live)
            if total != HUNDRED:
                raise forms.ValidationError(f"The percentages add up to {total}, not 100.")


class ShareInline(admin.TabularInline):
    model = SharedCostShare
    formset = SharesFormSet
    extra = 2


@admin.register(SharedCost)
class SharedCostAdmin(admin.ModelAdmin):
    list_display = ["name", "method", "note"]
    inlines = [ShareInline]


@admin.register(ChargebackEmail)
class ChargebackEmailAdmin(admin.ModelAdmin):
    list_display = ["month", "team", "recipient", "sent_at"]
    list_filter = ["month"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
