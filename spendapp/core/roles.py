"""Who may see what. Groups are created by a migration (core 0001).

Roles are group memberships (Finance, Engineering); superusers have every role. Being staff
only opens the Django admin, where model permissions decide what a user may see or change;
it grants no role. Actions beyond a role (other users' scenarios, provider-account alerts,
acknowledging for everyone) need the matching model permission, which groups or users get in
the admin.
"""

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
    """Superusers have every role; others need membership of one of ``roles``."""
    if not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return bool(_groups(user) & set(roles))


def can_view_dashboards(user) -> bool:
    return has_role(user, FINANCE, ENGINEERING)


def can_edit_budgets(user) -> bool:
    return has_role(user, FINANCE)


def can_save_scenarios(user) -> bool:
    return has_role(user, FINANCE, ENGINEERING)


def _staff_permission(user, perm: str) -> bool:
    """A model permission of a staff user (given in the admin). Non-staff users are not
    asked: no permission queries on every page for the dashboards' users."""
    return user.is_active and (user.is_superuser or (user.is_staff and user.has_perm(perm)))


def can_manage_scenario(user, scenario) -> bool:
    """Owners change and delete their scenarios; others need the model permission."""
    if not can_save_scenarios(user):
        return False
    return scenario.owner_id == user.pk or _staff_permission(user, "forecasting.change_scenario")


def sees_account_alerts(user) -> bool:
    """Provider-account alerts (a rejected key, a stale sync) are for account admins."""
    return _staff_permission(user, "providers.view_provideraccount")


def can_acknowledge(user, alert) -> bool:
    """Acknowledging hides an alert for everyone: budget alerts for those who edit budgets,
    account alerts for account admins, or staff with the alert's change permission."""
    if alert.budget_id is not None and can_edit_budgets(user):
        return True
    if alert.budget_id is None and _staff_permission(user, "providers.change_provideraccount"):
        return True
    return _staff_permission(user, "budgets.change_alertevent")


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
