from django.shortcuts import render

from spendapp.core.roles import dashboard_view


@dashboard_view
def overview(request):
    return render(request, "dashboard/overview.html", {"page": "overview"})
