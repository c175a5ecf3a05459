from django.urls import path

from spendapp.dashboard import planning_views, views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("explorer/", views.explorer, name="explorer"),
    path("explorer/export.csv", views.explorer_export, name="explorer_export"),
    path("forecast/", planning_views.forecast_page, name="forecast"),
    path("forecast/compute/", planning_views.forecast_compute, name="forecast_compute"),
    path("scenarios/", planning_views.scenarios, name="scenarios"),
    path("scenarios/save/", planning_views.scenario_save, name="scenario_save"),
    path("scenarios/<slug:slug>/delete/", planning_views.scenario_delete, name="scenario_delete"),
    path("data-health/", views.data_health, name="data_health"),
]
