"""Teams / cost centres, the rules that map spend to them, and the allocated daily rollup.

* ``Team`` is a small tree (company > department > team). A *cost centre* is a department:
  every allocated row also carries the department above its team, so cost-centre reports
  filter one indexed column instead of walking the tree per request.
* ``AllocationRule`` maps spend to a team (or to a ``SharedCost`` pool split over several
  teams) by provider account, project/workspace, API key, user or model, for a date range
  [valid_from, valid_until). The lowest ``priority`` number wins; overlapping rules of the
  same priority are rejected by ``clean()``.
* ``AllocatedSpend`` is ``usage.DailySpend`` with a team: every DailySpend row appears once
  per team it is allocated to (once with team NULL when no rule matches), so allocated +
  unallocated = total, exactly. It is recomputed set-based by ``allocation.engine``.
"""

from __future__ import annotations

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import Q

from spendapp.providers.models import ProviderAccount


class Team(models.Model):
    class Kind(models.TextChoices):
        COMPANY = "company", "Company"
        DEPARTMENT = "department", "Department (cost centre)"
        TEAM = "team", "Team"

    name = models.CharField(max_length=120, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.TEAM)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    code = models.CharField(
        max_length=40,
        blank=True,
        help_text="Finance's code for this team or cost centre (e.g. CC-4100); used in exports.",
    )
    owner_email = models.EmailField(
        blank=True, help_text="Receives the monthly chargeback report of this team."
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        # Walk up from the new parent: reaching ourselves would make a cycle.
        node, seen = self.parent, set()
        while node is not None and node.pk not in seen:
            if self.pk is not None and node.pk == self.pk:
                raise ValidationError({"parent": "A team cannot be placed under itself."})
            seen.add(node.pk)
            node = node.parent


class SharedCost(models.Model):
    """A pool of shared spend (e.g. a platform project) split over participating teams."""

    class Method(models.TextChoices):
        FIXED = "fixed", "Fixed percentages"
        PROPORTIONAL = "proportional", "In proportion to each team's direct spend"

    name = models.CharField(max_length=120, unique=True)
    method = models.CharField(max_length=20, choices=Method.choices, default=Method.FIXED)
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SharedCostShare(models.Model):
    shared_cost = models.ForeignKey(SharedCost, on_delete=models.CASCADE, related_name="shares")
    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="shared_shares")
    # Used by the fixed method only; the shares of one pool add up to 100.
    percent = models.DecimalField(
        max_digits=7,
        decimal_places=4,
        default=Decimal(0),
        validators=[MinValueValidator(Decimal(0)), MaxValueValidator(Decimal(100))],
    )

    class Meta:
        ordering = ["shared_cost", "team__name"]
        constraints = [
            models.UniqueConstraint(fields=["shared_cost", "team"], name="sharedcostshare_unique")
        ]

    def __str__(self) -> str:
        return f"{self.shared_cost}: {self.team} {self.percent}%"


class AllocationRule(models.Model):
    class Dimension(models.TextChoices):
        ACCOUNT = "account", "Provider account"
        PROJECT = "project", "Project / workspace"
        API_KEY = "api_key", "API key"
        USER = "user", "User"
        MODEL = "model", "Model"

    # DailySpend column each dimension matches on (account matches the account_id FK).
    COLUMNS = {
        Dimension.PROJECT: "project_id",
        Dimension.API_KEY: "api_key_id",
        Dimension.USER: "user_id",
        Dimension.MODEL: "model",
    }
    # Tie-break between rules of equal priority that validation could not see colliding
    # (their dimensions only meet in spend that arrives later): the more specific rule wins.
    SPECIFICITY = {"user": 1, "api_key": 2, "project": 3, "model": 4, "account": 5}

    dimension = models.CharField(max_length=20, choices=Dimension.choices)
    account = models.ForeignKey(
        ProviderAccount,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="Required for a provider-account rule; otherwise limits the rule to one "
        "account (empty = any account).",
    )
    value = models.CharField(
        max_length=200,
        blank=True,
        help_text="The project, key or user id, or the model name, exactly as the provider "
        "reports it. Empty for a provider-account rule.",
    )
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    shared_cost = models.ForeignKey(
        SharedCost, null=True, blank=True, on_delete=models.PROTECT, related_name="rules"
    )
    priority = models.PositiveIntegerField(
        default=100, help_text="The lowest number wins when several rules match."
    )
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True, help_text="Exclusive; empty = open.")
    note = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["priority", "dimension", "value", "valid_from"]
        constraints = [
            models.CheckConstraint(
                condition=Q(team__isnull=False, shared_cost__isnull=True)
                | Q(team__isnull=True, shared_cost__isnull=False),
                name="allocationrule_one_target",
            ),
            models.CheckConstraint(
                condition=Q(valid_until__isnull=True) | Q(valid_until__gt=models.F("valid_from")),
                name="allocationrule_valid_range",
            ),
        ]
        indexes = [
            # find_overlap() runs on every save: the rules of one priority in force on a date.
            models.Index(fields=["priority", "valid_from"], name="allocationrule_priority_from"),
        ]

    def __str__(self) -> str:
        target = self.team or self.shared_cost
        what = self.account.name if self.dimension == "account" and self.account else self.value
        return f"#{self.pk or 'new'} {self.get_dimension_display()} {what} → {target}"

    def describe(self) -> str:
        until = f" until {self.valid_until}" if self.valid_until else ""
        return f"rule {self} (priority {self.priority}, from {self.valid_from}{until})"

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if (self.team_id is None) == (self.shared_cost_id is None):
            errors["team"] = "Choose either a team or a shared cost pool."
        if self.dimension == self.Dimension.ACCOUNT:
            if self.account_id is None:
                errors["account"] = "A provider-account rule needs the account."
            self.value = ""
        elif not (self.value or "").strip():
            errors["value"] = "Enter the id or model name this rule matches."
        self.value = (self.value or "").strip()
        if self.valid_from and self.valid_until and self.valid_until <= self.valid_from:
            errors["valid_until"] = "Must be after the start date."
        if errors:
            raise ValidationError(errors)
        from spendapp.allocation.rules import find_overlap

        other = find_overlap(self)
        if other is not None:
            raise ValidationError(
                f"This {self.describe()} overlaps {other.describe()}: both have priority "
                f"{self.priority} and would match the same spend. Change a priority or the "
                f"dates."
            )


class AllocatedSpend(models.Model):
    """DailySpend split by team; team NULL is the unallocated bucket. Never edited by hand."""

    day = models.DateField()
    account = models.ForeignKey(ProviderAccount, on_delete=models.CASCADE)
    provider = models.CharField(max_length=32)
    project_id = models.CharField(max_length=200, blank=True, default="")
    model = models.CharField(max_length=200, blank=True, default="")
    api_key_id = models.CharField(max_length=200, blank=True, default="")
    user_id = models.CharField(max_length=200, blank=True, default="")
    # SET_NULL, not CASCADE: deleting a team must never delete spend; it turns unallocated
    # (visible) until the recompute that the deletion schedules.
    team = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    cost_centre = models.ForeignKey(Team, null=True, on_delete=models.SET_NULL, related_name="+")
    rule = models.ForeignKey(AllocationRule, null=True, on_delete=models.SET_NULL, related_name="+")
    shared_cost = models.ForeignKey(
        SharedCost, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    input_uncached_tokens = models.BigIntegerField(default=0)
    input_cached_tokens = models.BigIntegerField(default=0)
    cache_write_tokens = models.BigIntegerField(default=0)
    cache_write_1h_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    requests = models.BigIntegerField(default=0)
    unpriced_tokens = models.BigIntegerField(default=0)
    estimated_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    billed_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    # The team's share of DailySpend's calibrated estimate and spend (`spendapp.usage.spend`).
    calibrated_cost = models.DecimalField(max_digits=24, decimal_places=12, null=True)
    spend = models.DecimalField(max_digits=24, decimal_places=12, null=True)

    class Meta:
        indexes = [
            # Recompute deletes a day range; dashboard and chargeback scan a date range and
            # group by team.
            models.Index(fields=["day", "team"], name="allocspend_day_team"),
            # team_spend() for budgets: one team (or a subtree) over a period.
            models.Index(fields=["team", "day"], name="allocspend_team_day"),
            # Cost-centre filters of the dashboard and the chargeback subtotals.
            models.Index(fields=["cost_centre", "day"], name="allocspend_cc_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.provider} {self.project_id} {self.model} → {self.team}"


class ChargebackEmail(models.Model):
    """One monthly report sent to one team's owner: makes the monthly send idempotent."""

    month = models.DateField(help_text="First day of the reported month.")
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="+")
    recipient = models.EmailField()
    sent_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-month", "team__name"]
        constraints = [
            # The send task checks, then records, per (month, team): a retry never resends.
            models.UniqueConstraint(fields=["month", "team"], name="chargebackemail_unique")
        ]

    def __str__(self) -> str:
        return f"{self.month:%Y-%m} {self.team} → {self.recipient}"
