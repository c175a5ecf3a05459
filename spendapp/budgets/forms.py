"""The budget form, used by the budgets page and the Django admin."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction

from spendapp.budgets.models import Budget
from spendapp.budgets.validation import MAX_RECIPIENTS, split_emails
from spendapp.core.roles import FINANCE


def evaluate_soon(budget: Budget) -> None:
    from spendapp.budgets.tasks import evaluate_budget

    transaction.on_commit(lambda: evaluate_budget.apply_async((budget.pk,), expires=3600))


RECIPIENT_FIELDS = ("notify_users", "notify_groups", "extra_emails", "webhook_url")


class ThresholdsField(forms.CharField):
    """``50, 80, 100`` <-> ``[50, 80, 100]``."""

    def prepare_value(self, value):
        if isinstance(value, list | tuple):
            return ", ".join(str(v) for v in value)
        return value

    def to_python(self, value):
        text = super().to_python(value)
        parts = [p for p in text.replace(";", ",").replace(" ", ",").split(",") if p]
        try:
            return sorted({int(p.rstrip("%")) for p in parts})
        except ValueError:
            raise ValidationError(
                "Thresholds are whole percentages separated by commas, e.g. 50, 80, 100."
            ) from None


class BudgetForm(forms.ModelForm):
    thresholds = ThresholdsField(
        initial="50, 80, 100", help_text="Percent of the amount, separated by commas."
    )
    webhook_url = forms.URLField(
        required=False,
        max_length=500,
        assume_scheme="https",
        help_text="Optional: receives each alert as JSON (Slack incoming webhooks work).",
    )

    class Meta:
        model = Budget
        fields = [
            "name",
            "scope",
            "scope_value",
            "period",
            "amount",
            "currency",
            "thresholds",
            "forecast_alert",
            "forecast_probability",
            "anomaly_alert",
            "anomaly_z",
            "notify_users",
            "notify_groups",
            "extra_emails",
            "webhook_url",
            "webhook_format",
            "active",
        ]
        widgets = {
            "extra_emails": forms.Textarea(attrs={"rows": 2}),
            "scope_value": forms.TextInput(attrs={"list": "scope-values"}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk is None and "notify_groups" not in self.initial:
            # A new budget tells Finance unless the editor chooses otherwise.
            self.initial["notify_groups"] = list(
                Group.objects.filter(name=FINANCE).values_list("pk", flat=True)
            )
        self.fields["notify_users"].queryset = (
            get_user_model().objects.filter(is_active=True).order_by("username")
        )
        self.fields["notify_groups"].queryset = Group.objects.order_by("name")

    def has_recipients(self) -> bool:
        """Whether an alert would reach anyone: users, groups, addresses or a webhook, as
        submitted (or as stored / proposed before a submission)."""
        getlist = getattr(self.data, "getlist", None)
        for name in RECIPIENT_FIELDS:
            if self.is_bound:
                key = self.add_prefix(name)
                raw = getlist(key) if getlist else [self.data.get(key)]
                values = [v for v in raw if v and str(v).strip()]
            else:
                value = self.initial.get(name)
                values = list(value) if isinstance(value, list | tuple) else [value] * bool(value)
            if values:
                return True
        return False

    def save_for(self, user) -> Budget:
        """Save a valid form as ``user`` (the creator of a new budget) and evaluate the budget
        once the transaction commits: the budgets page and the API save through here."""
        if self.instance.pk is None:
            self.instance.created_by = user
        saved = self.save()
        evaluate_soon(saved)
        return saved

    def clean(self):
        cleaned = super().clean()
        users = {u.pk for u in cleaned.get("notify_users") or ()}
        groups = cleaned.get("notify_groups") or ()
        if groups:
            members = get_user_model().objects.filter(is_active=True, groups__in=groups)
            users |= set(members.values_list("pk", flat=True))
        total = len(users) + len(split_emails(cleaned.get("extra_emails", "")))
        if total > MAX_RECIPIENTS:
            self.add_error(
                "notify_groups",
                f"An alert may go to at most {MAX_RECIPIENTS} recipients; these are {total}.",
            )
        return cleaned
