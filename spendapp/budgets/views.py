from django.shortcuts import render

from spendapp.core.roles import dashboard_view


@dashboard_view
def budget_list(request):
    return render(request, "budgets/list.html", {"page": "budgets"})
