"""Forms of the Finance page. Field names are stable: browser tests and scripts post them."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from django import forms
from django.db import transaction

from spendapp.allocation.models import AllocationRule, SharedCost, SharedCostShare, Team

_DATE = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
HUNDRED = Decimal(100)


class TeamForm(forms.ModelForm):
    class Meta:
        model = Team
        fields = ["name", "kind", "parent", "code", "owner_email"]


class RuleForm(forms.ModelForm):
    class Meta:
        model = AllocationRule
        fields = [
            "dimension",
            "account",
            "value",
            "team",
            "shared_cost",
            "priority",
            "valid_from",
            "valid_until",
            "note",
        ]
        widgets = {
            "valid_from": _DATE,
            "valid_until": _DATE,
            "value": forms.TextInput(attrs={"list": "value-options", "autocomplete": "off"}),
        }


_SHARE_LINE = re.compile(r"^(?P<team>.+?)\s*(?:[=:]\s*(?P<percent>[-\d.,]+)\s*%?)?$")


class SharedCostForm(forms.ModelForm):
    shares = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One participating team per line (name or code). Fixed percentages: "
        "“Search = 60”; the percentages add up to 100.",
    )

    class Meta:
        model = SharedCost
        fields = ["name", "method", "note"]

    def __init__(self, *args, **kwargs):
        # Its own ids: the page also shows the team form (id_name) and the rule form (id_note).
        kwargs.setdefault("auto_id", "shared_%s")
        super().__init__(*args, **kwargs)
        if self.instance.pk and not self.is_bound:
            self.initial["shares"] = "\n".join(
                f"{s.team.name} = {s.percent.normalize():f}"
                if self.instance.method == SharedCost.Method.FIXED
                else s.team.name
                for s in self.instance.shares.select_related("team")
            )

    def clean(self):
        data = super().clean()
        method, text = data.get("method"), data.get("shares")
        if not method or text is None:
            return data
        by_name = {t.name.lower(): t for t in Team.objects.all()}
        by_code = {t.code.lower(): t for t in by_name.values() if t.code}
        parsed: dict[int, tuple[Team, Decimal]] = {}
        errors = []
        for raw in text.splitlines():
            line = raw.strip()
            if not line:
                continue
            match = _SHARE_LINE.match(line)
            name = match["team"].strip()
            team = by_name.get(name.lower()) or by_code.get(name.lower())
            if team is None:
                errors.append(f"Unknown team “{name}”.")
                continue
            if team.pk in parsed:
                errors.append(f"{team.name} is listed twice.")
                continue
            percent = Decimal(0)
            if method == SharedCost.Method.FIXED:
                try:
                    percent = Decimal((match["percent"] or "").replace(",", "."))
                except InvalidOperation:
                    errors.append(f"{team.name}: give a percentage, e.g. “{team.name} = 25”.")
                    continue
                if not Decimal(0) <= percent <= HUNDRED:
                    errors.append(f"{team.name}: the percentage must be between 0 and 100.")
                    continue
            parsed[team.pk] = (team, percent)
        if not parsed and not errors:
            errors.append("List at least one participating team.")
        total = sum((p for _, p in parsed.values()), Decimal(0))
        if method == SharedCost.Method.FIXED and parsed and not errors and total != HUNDRED:
            errors.append(f"The percentages add up to {total.normalize():f}, not 100.")
        if errors:
            self.add_error("shares", errors)
        self.parsed_shares = parsed
        return data

    @transaction.atomic
    def save(self, commit: bool = True) -> SharedCost:
        pool = super().save()
        pool.shares.exclude(team_id__in=self.parsed_shares).delete()
        for team, percent in self.parsed_shares.values():
            SharedCostShare.objects.update_or_create(
                shared_cost=pool, team=team, defaults={"percent": percent}
            )
        return pool
