"""The pages of the API: a user's own tokens (create, revoke) and the API docs, behind login."""

from __future__ import annotations

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from spendapp.api import tokens
from spendapp.api.models import SCOPE_CHOICES, ApiToken
from spendapp.core.roles import can_view_dashboards, dashboard_view


def _context(request, **extra) -> dict:
    allowed = tokens.allowed_scopes(request.user)
    return {
        "page": "api_tokens",
        "tokens": ApiToken.objects.filter(user=request.user),
        "scopes": [(value, label) for value, label in SCOPE_CHOICES if value in allowed],
        "expiry_days": tokens.EXPIRY_DAYS,
        "default_expiry": tokens.DEFAULT_EXPIRY_DAYS,
        **extra,
    }


@dashboard_view
def token_list(request):
    """Your tokens; the form to create one; the new secret, once, right after creating it."""
    if request.method == "POST":
        try:
            days = int(request.POST.get("expiry_days", ""))
        except ValueError:
            days = 0
        try:
            token, raw = tokens.create_token(
                request.user,
                request.POST.get("name", "")[:200],
                request.POST.getlist("scopes"),
                days,
            )
        except tokens.TokenError as exc:
            field, _, text = str(exc).partition(": ")
            context = _context(request, error_field=field, error=text, form=request.POST)
            return render(request, "api/tokens.html", context, status=400)
        context = _context(request, created=token, secret=raw)
        response = render(request, "api/tokens.html", context, status=201)
        return response
    return render(request, "api/tokens.html", _context(request))


@require_POST
@dashboard_view
def token_revoke(request, pk: int):
    token = tokens.revoke(request.user, pk)
    if token is None:
        messages.error(request, "No such token of yours.")
    else:
        messages.success(request, f"Token “{token.name}” revoked: it no longer works.")
    return redirect("api_tokens")


@dashboard_view
def docs(request):
    """The API reference: Swagger UI from our static files (no CDN, no inline script)."""
    settings = {"url": "/api/v1/openapi.json", "layout": "BaseLayout", "deepLinking": True}
    return render(
        request, "api/docs.html", {"page": "api_docs", "swagger_settings": json.dumps(settings)}
    )


def openapi_view(api):
    """``/api/v1/openapi.json``: for a logged-in dashboard user (the docs page) or a request
    with a valid token; 401 JSON otherwise."""

    @login_not_required
    @require_GET
    def view(request):
        if not can_view_dashboards(request.user):
            header = request.headers.get("Authorization", "")
            scheme, _, raw = header.partition(" ")
            if scheme.lower() != "bearer" or tokens.authenticate(raw.strip()) is None:
                body = {
                    "detail": "Authorization: log in or send a token",
                    "errors": [{"field": "Authorization", "message": "log in or send a token"}],
                }
                response = HttpResponse(
                    json.dumps(body), status=401, content_type="application/json"
                )
                response["WWW-Authenticate"] = 'Bearer realm="spendapp"'
                return response
        schema = api.get_openapi_schema(path_prefix="/api/v1/")
        return HttpResponse(json.dumps(schema), content_type="application/json")

    return view
