"""Creating, checking and revoking API tokens; what a token may do; the per-token rate limit.

A token never exceeds its user's role, at creation (only the scopes the role allows can be
chosen) and at every request (a scope the user's role no longer allows is not granted: a
Finance user moved out of Finance keeps a token that can no longer write budgets).
"""

from __future__ import annotations

import hashlib
import math
import secrets
import time
from datetime import timedelta

from django.core.cache import cache
from django.db import transaction
from django.utils import timezone

from spendapp.api.models import (
    ALLOCATION_WRITE,
    BUDGETS_WRITE,
    READ,
    SCENARIOS_WRITE,
    SCOPES,
    ApiToken,
)
from spendapp.core.roles import can_edit_budgets, can_save_scenarios, can_view_dashboards

TOKEN_PREFIX = "spk_"  # noqa: S105 (a prefix, not a secret)
EXPIRY_DAYS = (7, 30, 90, 365)
DEFAULT_EXPIRY_DAYS = 90
MAX_ACTIVE_TOKENS = 20
# Requests per token per window; the cache is Django's (per process with the default local
# memory cache, shared with a Redis or database cache).
RATE_LIMIT = 120
RATE_WINDOW_SECONDS = 60
# last_used_at is written at most this often per token (not on every request).
LAST_USED_RESOLUTION = timedelta(minutes=1)


class TokenError(ValueError):
    """A token that cannot be created as asked; the message names the field."""


def digest(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def allowed_scopes(user) -> tuple[str, ...]:
    """The scopes ``user``'s role allows, in `SCOPES` order."""
    allowed = {
        READ: can_view_dashboards(user),
        SCENARIOS_WRITE: can_save_scenarios(user),
        BUDGETS_WRITE: can_edit_budgets(user),
        ALLOCATION_WRITE: can_edit_budgets(user),  # the allocation page's editors: Finance
    }
    return tuple(scope for scope in SCOPES if allowed[scope])


def create_token(user, name: str, scopes, expiry_days: int) -> tuple[ApiToken, str]:
    """A new token and its secret, which is never stored and cannot be shown again."""
    name = (name or "").strip()
    if not name:
        raise TokenError("name: give the token a name")
    if len(name) > 100:
        raise TokenError("name: at most 100 characters")
    scopes = list(dict.fromkeys(scopes or ()))
    if not scopes:
        raise TokenError("scopes: choose at least one scope")
    unknown = [s for s in scopes if s not in SCOPES]
    if unknown:
        raise TokenError(f"scopes: unknown scope {', '.join(unknown)} (use {', '.join(SCOPES)})")
    beyond = [s for s in scopes if s not in allowed_scopes(user)]
    if beyond:
        raise TokenError(f"scopes: your role does not allow {', '.join(beyond)}")
    if expiry_days not in EXPIRY_DAYS:
        raise TokenError(f"expiry_days: one of {', '.join(map(str, EXPIRY_DAYS))}")
    with transaction.atomic():
        active = ApiToken.objects.select_for_update().filter(
            user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
        )
        if len(active) >= MAX_ACTIVE_TOKENS:
            raise TokenError(f"name: at most {MAX_ACTIVE_TOKENS} active tokens; revoke one first")
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        token = ApiToken.objects.create(
            user=user,
            name=name,
            prefix=raw[:12],
            digest=digest(raw),
            scopes=[s for s in SCOPES if s in scopes],
            expires_at=timezone.now() + timedelta(days=expiry_days),
        )
    return token, raw


def revoke(user, pk: int) -> ApiToken | None:
    """Revoke one of ``user``'s own tokens (None: no such token of theirs)."""
    token = ApiToken.objects.filter(user=user, pk=pk).first()
    if token is not None and token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def authenticate(raw: str) -> ApiToken | None:
    """The active token of an active user for ``raw``, else None (unknown, revoked, expired)."""
    if not raw or not raw.startswith(TOKEN_PREFIX) or len(raw) > 100:
        return None
    token = ApiToken.objects.select_related("user").filter(digest=digest(raw)).first()
    if token is None or not token.active or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
        token.last_used_at = now
    return token


def grants(token: ApiToken, scope: str) -> bool:
    """Whether ``token`` may act under ``scope`` now: the token has it and the role allows it."""
    return scope in token.scopes and scope in allowed_scopes(token.user)


def throttle(token: ApiToken) -> int | None:
    """Count one request; None when allowed, else the seconds until the window resets."""
    window = int(time.time() // RATE_WINDOW_SECONDS)
    key = f"api-rate:{token.pk}:{window}"
    if cache.add(key, 1, RATE_WINDOW_SECONDS + 1):
        count = 1
    else:
        try:
            count = cache.incr(key)
        except ValueError:  # expired between add and incr
            cache.set(key, 1, RATE_WINDOW_SECONDS + 1)
            count = 1
    if count <= RATE_LIMIT:
        return None
    return max(1, math.ceil((window + 1) * RATE_WINDOW_SECONDS - time.time()))
