from django.urls import path

from spendapp.budgets import views

urlpatterns = [
    path("", views.budget_list, name="budgets"),
]
