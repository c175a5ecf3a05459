"""Who may open what: every URL of the URLconf x every kind of user x GET and POST.

The table is the specification. A URL added to the URLconf without a row here fails
`test_every_url_has_a_row`; the Django admin's own pages are covered per registered model by
`test_admin_model_pages_follow_model_permissions`.

Statuses: 200 page, 302 redirect (to the login page for anonymous users, or after a POST),
400 a form with errors (POSTs send a form without its fields), 403 refused, 405 wrong method.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, User
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from forecasting.runs.models import Scenario
from spendapp.allocation.models import AllocationRule, SharedCost, Team
from spendapp.budgets.models import AlertEvent, Budget

pytestmark = pytest.mark.django_db

USERS = ("anonymous", "no_group", "finance", "engineering", "staff", "superuser")
ANON_GET = 302  # LoginRequiredMiddleware sends anonymous users to the login page
# (anonymous, no group, Finance, Engineering, staff without permissions, superuser)
DASHBOARD = (302, 403, 200, 200, 403, 200)
FINANCE_ONLY = (302, 403, 200, 403, 403, 200)
FINANCE_FORM = (302, 403, 400, 403, 403, 400)  # a POST without fields: the form, its errors
FINANCE_ACTION = (302, 403, 302, 403, 403, 302)
DASHBOARD_ACTION = (302, 403, 302, 302, 403, 302)
POST_ONLY = (302, 405, 405, 405, 405, 405)
# The allocation pages show a form's errors with status 200.
ALLOCATION_FORM = (302, 403, 200, 403, 403, 200)
ROLE_THEN_POST_ONLY = (302, 403, 405, 405, 403, 405)  # the role is checked before the method
ANY_USER = (302, 200, 200, 200, 200, 200)
# The API (/api/v1/) authenticates by token only: a session, whoever's, is 401 (405 for a
# method the URL does not have, checked first). Its own tests cover tokens x roles x scopes.
TOKEN_ONLY = (401,) * 6
NO_METHOD = (405,) * 6
API_READ = (TOKEN_ONLY, NO_METHOD)  # GET only
API_READ_WRITE = (TOKEN_ONLY, TOKEN_ONLY)  # GET and POST
API_WRITE = (NO_METHOD, TOKEN_ONLY)  # POST only
# name -> (GET statuses, POST statuses or None when the URL has no form)
MATRIX: dict[str, tuple[tuple[int, ...], tuple[int, ...] | None]] = {
    "healthz": ((200,) * 6, (405,) * 6),
    # The icon browsers ask for on every page, signed in or not: a redirect to the static file.
    "favicon": ((301,) * 6, None),
    "login": ((200,) * 6, (200,) * 6),
    "logout": (POST_ONLY, (302,) * 6),
    "password_change": (ANY_USER, ANY_USER),
    "password_change_done": (ANY_USER, None),
    "overview": (DASHBOARD, None),
    "explorer": (DASHBOARD, None),
    "explorer_export": (DASHBOARD, None),
    "claude_code": (DASHBOARD, None),
    "forecast": (DASHBOARD, None),
    # "Compute now": any dashboard role may ask for the day's forecast (a POST, then back).
    "forecast_compute": (POST_ONLY, DASHBOARD_ACTION),
    "scenarios": (DASHBOARD, (302, 403, 200, 200, 403, 200)),
    # Without a name the scenarios page comes back with the message (200).
    # "Compute now" of the scenarios' demand baseline (once per day of actuals).
    "scenario_compute": (POST_ONLY, DASHBOARD_ACTION),
    # The builder's live preview and goal seek (JSON): without a baseline, 409.
    "scenario_preview": (POST_ONLY, (302, 403, 409, 409, 403, 409)),
    "scenario_goal": (POST_ONLY, (302, 403, 409, 409, 403, 409)),
    "scenario_save": (POST_ONLY, (302, 403, 200, 200, 403, 200)),
    "scenario_delete": (POST_ONLY, (302, 403, 302, 403, 403, 302)),  # bob owns it
    "data_health": (DASHBOARD, None),
    "budgets": (DASHBOARD, None),
    "budget_create": (FINANCE_ONLY, FINANCE_FORM),
    "budget_edit": (FINANCE_ONLY, FINANCE_FORM),
    "budget_mute": (POST_ONLY, DASHBOARD_ACTION),
    "alert_acknowledge": (POST_ONLY, FINANCE_ACTION),
    # "Compute now" for credit runways: like the forecast's, any dashboard role (POST, back).
    "runway_compute": (POST_ONLY, DASHBOARD_ACTION),
    "credit_entry_new": (FINANCE_ONLY, FINANCE_FORM),
    "exchange_rate_new": (FINANCE_ONLY, FINANCE_FORM),
    "allocation": (DASHBOARD, None),
    "allocation_team_new": (FINANCE_ONLY, ALLOCATION_FORM),
    "allocation_team_edit": (FINANCE_ONLY, ALLOCATION_FORM),
    "allocation_team_delete": (ROLE_THEN_POST_ONLY, FINANCE_ACTION),
    "allocation_rule_new": (FINANCE_ONLY, ALLOCATION_FORM),
    "allocation_rule_edit": (FINANCE_ONLY, ALLOCATION_FORM),
    "allocation_rule_delete": (ROLE_THEN_POST_ONLY, FINANCE_ACTION),
    "allocation_shared_new": (FINANCE_ONLY, ALLOCATION_FORM),
    "allocation_shared_edit": (FINANCE_ONLY, ALLOCATION_FORM),
    "allocation_recompute": (ROLE_THEN_POST_ONLY, FINANCE_ACTION),
    "allocation_chargeback": (DASHBOARD, None),
    # The schema: for the docs page (a dashboard role's session) or a token; 401 JSON else.
    "api_openapi": ((401, 401, 200, 200, 401, 200), NO_METHOD),
    "api_docs": (DASHBOARD, None),
    # Your own tokens; a POST without fields is the form with its error (400).
    "api_tokens": (DASHBOARD, (302, 403, 400, 400, 403, 400)),
    "api_token_revoke": (POST_ONLY, DASHBOARD_ACTION),
    "api_spend": API_READ,
    "api_export_spend": API_READ,
    "api_export_focus": API_READ,
    "api_forecast_month": API_READ,
    "api_forecast_runs": API_READ,
    "api_forecast_run": API_READ,
    "api_budgets": API_READ_WRITE,
    "api_budget": API_READ,  # GET, PUT, DELETE
    "api_alerts": API_READ,
    "api_alert_acknowledge": API_WRITE,
    "api_provider_accounts": API_READ,
    "api_sync_runs": API_READ,
    "api_freshness": API_READ,
    "api_teams": API_READ_WRITE,
    "api_rules": API_READ_WRITE,
    "api_rule": (NO_METHOD, NO_METHOD),  # PUT, DELETE
    "api_chargeback": API_READ,
    "api_scenarios": API_READ_WRITE,
    "api_scenario_presets": API_READ,
    "api_scenario_run": API_WRITE,
    "api_scenario": (NO_METHOD, NO_METHOD),  # DELETE
}


def _url_names(patterns, prefix="") -> set[str]:
    names = set()
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            if pattern.app_name == "admin":
                continue  # the admin: see test_admin_model_pages_follow_model_permissions
            names |= _url_names(pattern.url_patterns)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(pattern.name)
    return names


def test_every_url_has_a_row():
    assert _url_names(get_resolver().url_patterns) == set(MATRIX)


@pytest.fixture
def cast(db) -> dict[str, User | None]:
    def user(name, *, group=None, staff=False, superuser=False):
        # No password (tests log in with force_login): hashing six per test is slow.
        made = User.objects.create(
            username=name, email=f"{name}@example.com", is_staff=staff, is_superuser=superuser
        )
        if group:
            made.groups.add(Group.objects.get_or_create(name=group)[0])
        return made

    return {
        "anonymous": None,
        "no_group": user("charlie"),
        "finance": user("bob", group="Finance"),
        "engineering": user("erin", group="Engineering"),
        "staff": user("sam", staff=True),
        "superuser": user("alice", staff=True, superuser=True),
    }


@pytest.fixture
def objects(cast) -> dict[str, object]:
    """One of each object a URL names, so every pattern can be reversed."""
    team = Team.objects.create(name="Search")
    rule = AllocationRule(dimension="project", value="p", team=team, valid_from=date(2026, 1, 1))
    rule.save()
    budget = Budget.objects.create(name="AI", amount=Decimal(100))
    alert = AlertEvent.objects.create(
        budget=budget, kind="threshold", period_start=date(2026, 6, 1), threshold=80
    )
    scenario = Scenario(owner=cast["finance"], name="Plan", spec={"transforms": []})
    scenario.save()
    return {
        "team": team,
        "rule": rule,
        "budget": budget,
        "alert": alert,
        "scenario": scenario,
        "shared": SharedCost.objects.create(name="Platform", method="fixed"),
    }


def _path(name: str, objects: dict) -> str:
    kwargs = {
        "budget_edit": {"pk": objects["budget"].pk},
        "budget_mute": {"pk": objects["budget"].pk},
        "alert_acknowledge": {"pk": objects["alert"].pk},
        "scenario_delete": {"slug": objects["scenario"].slug},
        "allocation_team_edit": {"pk": objects["team"].pk},
        "allocation_team_delete": {"pk": objects["team"].pk},
        "allocation_rule_edit": {"pk": objects["rule"].pk},
        "allocation_rule_delete": {"pk": objects["rule"].pk},
        "allocation_shared_edit": {"pk": objects["shared"].pk},
        "api_token_revoke": {"pk": 1},
        "api_forecast_run": {"run_id": 1},
        "api_budget": {"budget_id": objects["budget"].pk},
        "api_alert_acknowledge": {"alert_id": objects["alert"].pk},
        "api_rule": {"rule_id": objects["rule"].pk},
        "api_scenario": {"slug": objects["scenario"].slug},
    }.get(name, {})
    return reverse(name, kwargs=kwargs)


CASES = [
    (name, method, who, statuses[USERS.index(who)])
    for name, (get, post) in MATRIX.items()
    for method, statuses in (("GET", get), ("POST", post))
    if statuses is not None
    for who in USERS
]


@pytest.mark.parametrize(("name", "method", "who", "expected"), CASES)
def test_the_matrix(client, cast, objects, name, method, who, expected):
    if cast[who] is not None:
        client.force_login(cast[who])
    path = _path(name, objects)
    response = client.get(path) if method == "GET" else client.post(path, {"submitted": "1"})
    assert response.status_code == expected, f"{method} {path} as {who}: {response.status_code}"
    if expected == 401:
        assert response.json()["errors"][0]["field"] == "Authorization"
    if expected == 302 and who == "anonymous" and name not in ("logout",):
        assert response["Location"].startswith("/accounts/login/")


ADMIN_MODELS = sorted(
    f"{model._meta.app_label}.{model._meta.model_name}" for model in admin.site._registry
)


@pytest.mark.parametrize("label", ADMIN_MODELS)
def test_admin_model_pages_follow_model_permissions(client, cast, label):
    app, model = label.split(".")
    url = reverse(f"admin:{app}_{model}_changelist")
    statuses = {}
    for who in USERS:
        client.logout()
        if cast[who] is not None:
            client.force_login(cast[who])
        statuses[who] = client.get(url).status_code
    assert statuses == {
        "anonymous": 302,  # to the admin login
        "no_group": 302,
        "finance": 302,
        "engineering": 302,
        "staff": 403,  # in the admin, but without a permission on this model
        "superuser": 200,
    }
