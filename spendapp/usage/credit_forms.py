"""Finance's prepaid-credit forms (the budgets page and the admin): a top-up, grant or balance
statement, and a conversion rate."""

from __future__ import annotations

from decimal import Decimal

from django import forms
from django.core.exceptions import ValidationError

from spendapp.core.inputs import FIRST_DAY, LAST_DAY
from spendapp.providers.models import ProviderAccount
from spendapp.usage.credit_models import CreditEntry, ExchangeRate

MAX_AMOUNT = Decimal("999999999999.99")  # fits the column (14 digits, 2 decimals)
MAX_RATE = Decimal("9999999999")  # fits the column (18 digits, 8 decimals)


def clean_currency(value: str) -> str:
    code = (value or "").strip().upper()
    if len(code) != 3 or not code.isascii() or not code.isalpha():
        raise ValidationError("Use a three-letter ISO 4217 code, e.g. USD, EUR or CNY.")
    return code


def clean_day(value):
    if value is not None and not FIRST_DAY <= value <= LAST_DAY:
        raise ValidationError(f"Use a day between {FIRST_DAY} and {LAST_DAY}.")
    return value


class CreditEntryForm(forms.ModelForm):
    class Meta:
        model = CreditEntry
        fields = ["account", "kind", "day", "amount", "currency", "note"]
        widgets = {"day": forms.DateInput(attrs={"type": "date"})}
        help_texts = {
            "amount": "In the currency below. A statement may be 0 (the balance was used up).",
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = ProviderAccount.objects.filter(enabled=True).exclude(
            provider="focus"
        )

    def clean_currency(self):
        return clean_currency(self.cleaned_data.get("currency", ""))

    def clean_day(self):
        return clean_day(self.cleaned_data.get("day"))

    def clean(self):
        data = super().clean()
        amount, kind = data.get("amount"), data.get("kind")
        if amount is not None:
            if amount > MAX_AMOUNT:
                self.add_error("amount", f"At most {MAX_AMOUNT:,}.")
            elif amount < 0 or (amount == 0 and kind != CreditEntry.Kind.STATEMENT):
                self.add_error("amount", "A top-up or grant is a positive amount.")
        return data


class ExchangeRateForm(forms.ModelForm):
    class Meta:
        model = ExchangeRate
        fields = ["currency", "rate", "valid_from", "note"]
        widgets = {"valid_from": forms.DateInput(attrs={"type": "date"})}
        help_texts = {"rate": "How much one unit of the currency is worth in the org's currency."}

    def clean_currency(self):
        return clean_currency(self.cleaned_data.get("currency", ""))

    def clean_valid_from(self):
        return clean_day(self.cleaned_data.get("valid_from"))

    def clean_rate(self):
        rate = self.cleaned_data.get("rate")
        if rate is not None and not Decimal(0) < rate <= MAX_RATE:
            raise ValidationError(f"A rate above 0 and at most {MAX_RATE:,}.")
        return rate
