from django.urls import path

from spendapp.allocation import views

urlpatterns = [
    path("", views.index, name="allocation"),
    path("teams/new/", views.team_new, name="allocation_team_new"),
    path("teams/<int:pk>/", views.team_edit, name="allocation_team_edit"),
    path("teams/<int:pk>/delete/", views.team_delete, name="allocation_team_delete"),
    path("rules/new/", views.rule_new, name="allocation_rule_new"),
    path("rules/<int:pk>/", views.rule_edit, name="allocation_rule_edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="allocation_rule_delete"),
    path("shared/new/", views.shared_new, name="allocation_shared_new"),
    path("shared/<int:pk>/", views.shared_edit, name="allocation_shared_edit"),
    path("recompute/", views.recompute, name="allocation_recompute"),
    path("chargeback/", views.chargeback, name="allocation_chargeback"),
]
