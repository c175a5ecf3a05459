"""Formatting for budget pages and alert emails."""

from __future__ import annotations

from django import template

from spendapp.core import money as formats
from spendapp.providers.models import ProviderEntity

register = template.Library()


@register.filter
def money(value, currency: str | None = None) -> str:
    """``1234.5`` -> ``$1,234.50`` (`spendapp.core.money`); empty for None."""
    if value is None or value == "":
        return ""
    return formats.exact(value, currency)


@register.filter
def probability(value) -> str:
    """A probability stored as a fraction (0..1), printed as a percentage of 100: ``0.97`` ->
    ``97%`` (pages, banners and emails all print it this way)."""
    if value is None or value == "":
        return ""
    return f"{float(value) * 100:.0f}%"


@register.filter
def runway_needs_compute(runways) -> bool:
    """Whether any runway waits for the day's forecast ("Compute now" is offered)."""
    return any(r.not_ready for r in runways)


@register.filter
def percent(value, digits: int = 0) -> str:
    if value is None or value == "":
        return ""
    return f"{float(value):.{int(digits)}f}%"


@register.filter
def project_name(external_id: str) -> str:
    """A project's (workspace's) display name where its provider gave one, else its id: alert
    emails list drivers by the names the dashboard shows. One query per driver (three at most)."""
    name = (
        ProviderEntity.objects.filter(kind="project", external_id=external_id)
        .exclude(name="")
        .values_list("name", flat=True)
        .first()
    )
    return name or external_id
