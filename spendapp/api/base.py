"""The API object: token authentication, scopes, the rate limit and JSON errors.

Every error is JSON: ``{"detail": "...", "errors": [{"field": "...", "message": "..."}]}``;
``field`` names the parameter or body field at fault (``""`` when the error is not about one).
"""

from __future__ import annotations

from contextlib import contextmanager

from auditlog.context import set_actor
from django.http import Http404, HttpRequest
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError
from ninja.security import HttpBearer
from ninja.throttling import BaseThrottle

from spendapp.api import tokens
from spendapp.api.models import ApiToken
from spendapp.core.roles import can_view_dashboards

API_DESCRIPTION = """Spendapp's public API: the numbers of the dashboards, as JSON.

Authenticate with a personal token (`Authorization: Bearer spk_...`), created on
`/api/tokens/`. A token carries scopes (`read`, `scenarios:write`, `budgets:write`,
`allocation:write`) and never exceeds its user's role. Money is a decimal string in the
organisation's currency. Each token may make {limit} requests per {window} seconds (429 with
`Retry-After` beyond). Errors are JSON naming the field at fault.
"""


class ApiError(HttpError):
    """An error naming a field: ``ApiError(400, "from", "expected YYYY-MM-DD")``."""

    def __init__(self, status: int, field: str, message: str):
        super().__init__(status, f"{field}: {message}" if field else message)
        self.field = field
        self.text = message


def field_error(message: str, status: int = 400) -> ApiError:
    """``"granularity: expected one of ..."`` (the shared validators' form) -> `ApiError`."""
    field, sep, text = message.partition(": ")
    if not sep or " " in field:
        return ApiError(status, "", message)
    return ApiError(status, field, text)


class TokenAuth(HttpBearer):
    openapi_description = "A personal API token: `Authorization: Bearer spk_...`."

    def authenticate(self, request: HttpRequest, token: str) -> ApiToken | None:
        found = tokens.authenticate(token)
        if found is None:
            return None
        _reject_nul(request)
        # Views and the audit log see the token's user.
        request.user = found.user
        return found


def _reject_nul(request: HttpRequest) -> None:
    """PostgreSQL text holds no NUL: one in a parameter, the path or the JSON body (raw or
    escaped) is a 400 naming it, before anything reads it (the API's own form of
    `spendapp.core.middleware.RejectNulMiddleware`, which answers in plain text)."""
    for key, values in request.GET.lists():
        if "\x00" in key or any("\x00" in v for v in values):
            raise ApiError(400, key.replace("\x00", "\\0")[:40], "must not contain a NUL byte")
    if "\x00" in request.path:
        raise ApiError(400, "", "the path must not contain a NUL byte")
    body = request.body if request.method in ("POST", "PUT", "PATCH") else b""
    if b"\x00" in body or b"\\u0000" in body:
        raise ApiError(400, "body", "must not contain a NUL character")


class TokenThrottle(BaseThrottle):
    """`tokens.throttle`: a fixed window per token in Django's cache."""

    def allow_request(self, request: HttpRequest) -> bool:
        token = getattr(request, "auth", None)
        self._wait = tokens.throttle(token) if isinstance(token, ApiToken) else None
        return self._wait is None

    def wait(self) -> float | None:
        return self._wait


def require(request: HttpRequest, scope: str) -> ApiToken:
    """403 unless the request's token grants ``scope`` (and the user's role still allows it)."""
    token: ApiToken = request.auth
    if scope == tokens.READ and not can_view_dashboards(token.user):
        raise ApiError(403, "", "your account has no role that can read spend")
    if not tokens.grants(token, scope):
        if scope in token.scopes:
            raise ApiError(403, "", f"your role no longer allows {scope}")
        raise ApiError(403, "", f"this token lacks the {scope} scope")
    return token


@contextmanager
def audited(request: HttpRequest):
    """Writes inside are logged by django-auditlog with the token's user as the actor (its
    middleware saw the anonymous session of a token request)."""
    with set_actor(request.auth.user, remote_addr=request.META.get("REMOTE_ADDR")):
        yield


def _errors(request, api, status: int, errors: list[dict], detail: str):
    return api.create_response(request, {"detail": detail, "errors": errors}, status=status)


def build_api() -> NinjaAPI:
    api = NinjaAPI(
        title="Spendapp API",
        version="1",
        description=API_DESCRIPTION.format(
            limit=tokens.RATE_LIMIT, window=tokens.RATE_WINDOW_SECONDS
        ),
        auth=TokenAuth(),
        throttle=[TokenThrottle()],
        urls_namespace="api",
        docs_url=None,  # the docs page is ours (`spendapp.api.views.docs`), behind login
    )

    @api.exception_handler(ApiError)
    def _api_error(request, exc: ApiError):
        return _errors(
            request, api, exc.status_code, [{"field": exc.field, "message": exc.text}], str(exc)
        )

    @api.exception_handler(ValidationError)
    def _validation(request, exc: ValidationError):
        errors = []
        for error in exc.errors:
            loc = [str(part) for part in error.get("loc", ())]
            # ("query", "limit") / ("body", "payload", "amount"): the field is the last part.
            field = ".".join(p for p in loc[1:] if p not in ("payload",)) or (
                loc[-1] if loc else ""
            )
            errors.append({"field": field, "message": error.get("msg", "invalid")})
        detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors) or "invalid request"
        return _errors(request, api, 400, errors, detail)

    @api.exception_handler(AuthenticationError)
    def _unauthenticated(request, exc):
        response = _errors(
            request,
            api,
            401,
            [{"field": "Authorization", "message": "missing, unknown, revoked or expired token"}],
            "Authorization: missing, unknown, revoked or expired token",
        )
        response["WWW-Authenticate"] = 'Bearer realm="spendapp"'
        return response

    @api.exception_handler(Throttled)
    def _throttled(request, exc: Throttled):
        wait = int(exc.wait or 1)
        response = _errors(
            request,
            api,
            429,
            [{"field": "", "message": f"rate limit: retry in {wait} s"}],
            f"rate limit: {tokens.RATE_LIMIT} requests per {tokens.RATE_WINDOW_SECONDS} s",
        )
        response["Retry-After"] = str(wait)
        return response

    @api.exception_handler(Http404)
    def _not_found(request, exc):
        return _errors(request, api, 404, [{"field": "", "message": "not found"}], "not found")

    @api.exception_handler(HttpError)
    def _http_error(request, exc: HttpError):
        return _errors(
            request, api, exc.status_code, [{"field": "", "message": exc.message}], exc.message
        )

    return api
