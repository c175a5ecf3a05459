"""Who may see what. Groups are created by a migration (core 0001)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.core.exceptions import PermissionDenied

FINANCE = "Finance"
ENGINEERING = "Engineering"
ROLE_GROUPS = (FINANCE, ENGINEERING)


def _groups(user) -> set[str]:
    # Cached on the user object: one query per request however many checks a page makes.
    if not hasattr(user, "_spendapp_groups"):
        user._spendapp_groups = set(user.groups.values_list("name", flat=True))
    return user._spendapp_groups


def has_role(user: AbstractBaseUser | AnonymousUser, *roles: str) -> bool:
    """Staff admins have every role; others need membership of one of ``roles``."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_staff or user.is_superuser:
        return True
    return bool(_groups(user) & set(roles))


def can_view_dashboards(user) -> bool:
    return has_role(user, FINANCE, ENGINEERING)


def can_edit_budgets(user) -> bool:
    return has_role(user, FINANCE)


def can_save_scenarios(user) -> bool:
    return has_role(user, FINANCE, ENGINEERING)


def role_required(*roles: str) -> Callable:
    """View decorator: 403 for a logged-in user without one of ``roles``."""

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not has_role(request.user, *roles):
                raise PermissionDenied("Your account has no role that can open this page.")
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


dashboard_view = role_required(FINANCE, ENGINEERING)
