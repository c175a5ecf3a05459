from django.urls import path

from spendapp.budgets import views

urlpatterns = [
    path("", views.budget_list, name="budgets"),
    path("new/", views.budget_create, name="budget_create"),
    path("<int:pk>/edit/", views.budget_edit, name="budget_edit"),
    path("<int:pk>/mute/", views.budget_mute, name="budget_mute"),
    path("alerts/<int:pk>/acknowledge/", views.alert_acknowledge, name="alert_acknowledge"),
]
