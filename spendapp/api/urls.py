"""URLs: ``/api/v1/...`` (token-authenticated JSON), the OpenAPI document, the docs page and
the token page. API operations authenticate by token, not by session, so Django's
login-required middleware leaves them to the API (`login_not_required`)."""

from django.contrib.auth.decorators import login_not_required
from django.urls import URLPattern, URLResolver, include, path

from spendapp.api import views
from spendapp.api.base import build_api
from spendapp.api.endpoints import router
from spendapp.core.middleware import checks_own_params

api = build_api()
api.add_router("/", router)


def _token_only(patterns):
    out = []
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            out.extend(_token_only(pattern.url_patterns))
        elif isinstance(pattern, URLPattern) and pattern.name not in ("api-root", "openapi-json"):
            # (ninja's own root and schema views: the schema is `views.openapi_view`)
            # Token auth, and NUL bytes refused as JSON (`base._reject_nul`).
            pattern.callback = checks_own_params(login_not_required(pattern.callback))
            out.append(pattern)
    return out


api_patterns = api.urls[0]
urlpatterns = [
    path("v1/openapi.json", views.openapi_view(api), name="api_openapi"),
    # No namespace: every URL name is global and prefixed "api_" (the authorization matrix).
    path("v1/", include(_token_only(api_patterns))),
    path("docs/", views.docs, name="api_docs"),
    path("tokens/", views.token_list, name="api_tokens"),
    path("tokens/<int:pk>/revoke/", views.token_revoke, name="api_token_revoke"),
]
