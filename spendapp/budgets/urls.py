from django.urls import path

from spendapp.budgets import views

urlpatterns = [
    path("", views.budget_list, name="budgets"),
    path("new/", views.budget_create, name="budget_create"),
    path("<int:pk>/edit/", views.budget_edit, name="budget_edit"),
    path("<int:pk>/mute/", views.budget_mute, name="budget_mute"),
    path("runway/compute/", views.runway_compute, name="runway_compute"),
    path("credits/new/", views.credit_entry_new, name="credit_entry_new"),
    path("rates/new/", views.exchange_rate_new, name="exchange_rate_new"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
]
