from django.conf import settings

from spendapp.core import money, roles


def spendapp(request):
    user = getattr(request, "user", None)
    return {
        "org_name": settings.ORG_NAME,
        "org_currency": settings.ORG_CURRENCY,
        "currency_symbol": money.currency_symbol().strip(),
        "can_view_dashboards": bool(user) and roles.can_view_dashboards(user),
        "can_edit_budgets": bool(user) and roles.can_edit_budgets(user),
    }
