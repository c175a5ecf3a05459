"""``{% load budget_alerts %}{% alert_banners %}``: active alerts as banners (overview)."""

from __future__ import annotations

from django import template

from spendapp.budgets.hooks import active_alerts

register = template.Library()


@register.inclusion_tag("budgets/_alert_banners.html", takes_context=True)
def alert_banners(context) -> dict:
    request = context.get("request")
    user = getattr(request, "user", None) or context.get("user")
    return {
        "alerts": active_alerts(user) if user is not None else [],
        "csrf_token": context.get("csrf_token"),
        "request": request,
    }
