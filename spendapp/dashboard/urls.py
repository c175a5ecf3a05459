from django.urls import path

from spendapp.dashboard import claude_code_views, forecast_views, scenario_views, views

urlpatterns = [
    path("", views.overview, name="overview"),
    path("explorer/", views.explorer, name="explorer"),
    path("explorer/export.csv", views.explorer_export, name="explorer_export"),
    path("explorer/claude-code/", claude_code_views.claude_code, name="claude_code"),
    path("forecast/", forecast_views.forecast_page, name="forecast"),
    path("forecast/compute/", forecast_views.forecast_compute, name="forecast_compute"),
    path("scenarios/", scenario_views.scenarios, name="scenarios"),
    path("scenarios/preview/", scenario_views.scenario_preview, name="scenario_preview"),
    path("scenarios/goal/", scenario_views.scenario_goal, name="scenario_goal"),
    path("scenarios/compute/", scenario_views.scenario_compute, name="scenario_compute"),
    path("scenarios/save/", scenario_views.scenario_save, name="scenario_save"),
    path("scenarios/<slug:slug>/delete/", scenario_views.scenario_delete, name="scenario_delete"),
    path("data-health/", views.data_health, name="data_health"),
]
