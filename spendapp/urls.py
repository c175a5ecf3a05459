from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from spendapp.core import views as core_views

admin.site.site_header = "Spendapp administration"
admin.site.site_title = "Spendapp admin"

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("favicon.ico", core_views.favicon, name="favicon"),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/done/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("admin/", admin.site.urls),
    path("budgets/", include("spendapp.budgets.urls")),
    path("allocation/", include("spendapp.allocation.urls")),
    path("api/", include("spendapp.api.urls")),
    path("", include("spendapp.dashboard.urls")),
]
