from django.urls import path

from spendapp.dashboard import views

urlpatterns = [
    path("", views.overview, name="overview"),
]
