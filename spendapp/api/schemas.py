"""Request and response shapes of the API (OpenAPI components). Money is a decimal string."""

from __future__ import annotations

from datetime import date, datetime

from ninja import Field, Schema

Money = str


class FieldError(Schema):
    field: str = Field(description="The parameter or body field at fault ('' = none)")
    message: str


class Error(Schema):
    detail: str
    errors: list[FieldError]


class SpendRow(Schema):
    """One row of `manage.py spend --json`: only the groupings asked for are present."""

    date: str = Field(description="Period start: a day, a Monday, a month's first day or an hour")
    provider: str | None = None
    account: str | None = None
    project: str | None = None
    model: str | None = None
    tier: str | None = None
    api_key: str | None = None
    user: str | None = None
    team: str | None = None
    cost_centre: str | None = None
    input_tokens: int
    cached_input_tokens: int
    output_tokens: int
    requests: int
    estimated_cost: Money
    billed_cost: Money | None
    calibrated_cost: Money
    spend: Money


class SpendPage(Schema):
    rows: list[SpendRow]
    limit: int
    offset: int
    next_offset: int | None = Field(description="offset of the next page; null on the last")


class Projection(Schema):
    month: str
    as_of: date | None
    actual_to_date: Money
    projected_total: Money | None
    lower_80: Money | None
    upper_80: Money | None
    note: str


class Check(Schema):
    checked_at: datetime
    days_compared: int
    last_actual: date | None
    mae: float | None
    mase: float | None
    bias: float | None
    hit_rate_80: float | None
    hit_rate_95: float | None


class Series(Schema):
    provider: str
    model: str
    project_id: str
    measure: str
    chosen_model: str
    basis: str
    horizon_total: Money
    check: Check | None


class Point(Schema):
    date: date
    mean: Money
    lower80: Money | None
    upper80: Money | None
    lower95: Money | None
    upper95: Money | None


class SeriesDetail(Series):
    points: list[Point]


class Run(Schema):
    id: int
    created_at: datetime
    kind: str
    status: str
    trigger: str
    as_of: date
    horizon: int
    levels: list[float]
    filters: dict[str, list[str]]
    total: Series | None


class RunDetail(Run):
    series: list[SeriesDetail]


class RunPage(Schema):
    runs: list[Run]
    limit: int
    offset: int
    next_offset: int | None


class Budget(Schema):
    id: int
    name: str
    scope: str
    scope_value: str
    period: str
    amount: Money
    currency: str
    thresholds: list[int]
    forecast_alert: bool
    forecast_probability: int
    anomaly_alert: bool
    anomaly_z: Money
    notify_users: list[int]
    notify_groups: list[int]
    extra_emails: str
    webhook_format: str
    has_webhook: bool
    active: bool
    evaluated_at: datetime | None
    period_start: date | None
    spend: Money | None
    projected: Money | None
    probability: float | None
    crossing_date: date | None


class BudgetIn(Schema):
    name: str = Field(max_length=100)
    scope: str = "org"
    scope_value: str = Field("", max_length=200)
    period: str = "month"
    amount: str = Field(description='Decimal amount, e.g. "2500.00"', max_length=20)
    currency: str = Field("", max_length=3, description="Empty: the organisation's currency")
    thresholds: list[int] = Field(default=[50, 80, 100], max_length=20)
    forecast_alert: bool = True
    forecast_probability: int = Field(80, ge=1, le=99)
    anomaly_alert: bool = True
    anomaly_z: str = Field("3.5", max_length=10)
    notify_users: list[int] = Field(default=[], max_length=200)
    notify_groups: list[int] = Field(default=[], max_length=50)
    extra_emails: str = Field("", max_length=5000)
    webhook_url: str = Field("", max_length=500)
    webhook_format: str = "json"
    active: bool = True


class Alert(Schema):
    id: int
    kind: str
    budget_id: int | None
    account_id: int | None
    period_start: date | None
    threshold: int
    spend: Money | None
    budget_amount: Money | None
    projected: Money | None
    probability: float | None
    crossing_date: date | None
    created_at: datetime
    acknowledged_at: datetime | None


class AlertPage(Schema):
    alerts: list[Alert]
    limit: int
    offset: int
    next_offset: int | None


class Account(Schema):
    id: int
    name: str
    provider: str
    enabled: bool
    status: str
    status_message: str
    key_last4: str = Field(description="The key's last four characters, never more")
    last_sync_at: datetime | None
    last_success_at: datetime | None


class SyncRun(Schema):
    id: int
    account_id: int
    started_at: datetime
    finished_at: datetime | None
    outcome: str
    trigger: str
    windows: int
    windows_failed: int
    rows_inserted: int
    rows_updated: int
    rows_deleted: int
    error: str


class SyncRunPage(Schema):
    runs: list[SyncRun]
    limit: int
    offset: int
    next_offset: int | None


class Freshness(Schema):
    account_id: int
    account: str
    last_day: date | None
    lag_days: int | None
    level: str


class Team(Schema):
    id: int
    name: str
    kind: str
    parent_id: int | None
    code: str
    owner_email: str


class TeamIn(Schema):
    name: str = Field(max_length=120)
    kind: str = "team"
    parent: int | None = None
    code: str = Field("", max_length=40)
    owner_email: str = Field("", max_length=254)


class Rule(Schema):
    id: int
    dimension: str
    account_id: int | None
    value: str
    team_id: int | None
    shared_cost_id: int | None
    priority: int
    valid_from: date
    valid_until: date | None
    note: str


class RuleIn(Schema):
    dimension: str
    account: int | None = None
    value: str = Field(max_length=200)
    team: int | None = None
    shared_cost: int | None = None
    priority: int = Field(100, ge=0, le=1_000_000)
    valid_from: str = Field(max_length=10, description="YYYY-MM-DD")
    valid_until: str = Field("", max_length=10, description="YYYY-MM-DD or empty")
    note: str = Field("", max_length=300)


class ChargebackLine(Schema):
    team_id: int | None
    team: str
    code: str
    cost_centre: str
    spend: Money
    billed: Money | None
    estimated: Money
    previous_spend: Money | None


class Chargeback(Schema):
    month: str
    total: Money
    lines: list[ChargebackLine]


class Scenario(Schema):
    slug: str
    name: str
    notes: str
    owner: str | None
    spec: dict
    created_at: datetime
    updated_at: datetime


class ScenarioIn(Schema):
    name: str = Field(max_length=200)
    notes: str = Field("", max_length=5000)
    transforms: list[dict] = Field(max_length=50)


class ScenarioRun(Schema):
    preset: str | None = Field(None, description="A preset's name (see /scenarios/presets)")
    slug: str | None = Field(None, description="A saved scenario's slug")
    spec: dict | None = Field(None, description="A spec: {name, description, transforms}")


class Month(Schema):
    month: str
    spend: Money
    lower: Money
    upper: Money


class ScenarioResult(Schema):
    name: str
    total: Money
    savings: Money | None
    months: list[Month]


class ScenarioComparison(Schema):
    baseline: ScenarioResult
    scenario: ScenarioResult


class Preset(Schema):
    name: str
    description: str
    available: bool
