"""Personal API tokens: created on the user's page, shown once, stored hashed, within the
user's role; revoked or expired -> 401; a scope missing -> 403; rate limited; writes audited."""

from __future__ import annotations

from datetime import timedelta

import pytest
from auditlog.models import LogEntry
from django.contrib.auth.models import Group
from django.utils import timezone

from spendapp.api import tokens
from spendapp.api.models import ApiToken
from spendapp.budgets.models import AlertEvent, Budget

from .conftest import TokenClient, token_for

pytestmark = pytest.mark.django_db

BUDGET = {"name": "Team AI", "amount": "2500.00"}


def test_the_page_shows_a_new_token_once_and_stores_only_its_digest(client, bob):
    client.force_login(bob)
    page = client.post(
        "/api/tokens/", {"name": "BI sync", "scopes": ["read", "budgets:write"], "expiry_days": 30}
    )
    assert page.status_code == 201
    raw = page.context["secret"]
    assert raw.startswith("spk_") and len(raw) > 40
    assert raw in page.content.decode()
    token = ApiToken.objects.get(user=bob)
    assert token.digest == tokens.digest(raw) and raw not in (token.digest, token.prefix)
    assert token.scopes == ["read", "budgets:write"]
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    again = client.get("/api/tokens/")
    assert raw not in again.content.decode() and token.prefix in again.content.decode()
    # It works, and the page then says when it was last used.
    assert TokenClient(client, raw).get("/api/v1/budgets").status_code == 200
    token.refresh_from_db()
    assert token.last_used_at is not None


def test_a_token_never_exceeds_its_users_role(client, erin, charlie):
    client.force_login(erin)
    page = client.post(
        "/api/tokens/", {"name": "CI", "scopes": ["read", "budgets:write"], "expiry_days": 30}
    )
    assert page.status_code == 400
    assert page.context["error_field"] == "scopes"
    assert "budgets:write" in page.context["error"]
    assert not ApiToken.objects.exists()
    # The form offers Engineering only what Engineering may do.
    offered = [value for value, _ in client.get("/api/tokens/").context["scopes"]]
    assert offered == ["read", "scenarios:write"]
    client.force_login(charlie)
    assert client.get("/api/tokens/").status_code == 403
    with pytest.raises(tokens.TokenError, match="scopes: your role does not allow"):
        tokens.create_token(charlie, "x", ["read"], 30)


def test_bad_token_forms_name_the_field(client, bob):
    client.force_login(bob)
    for data, field in (
        ({"name": "", "scopes": ["read"], "expiry_days": 30}, "name"),
        ({"name": "x", "scopes": [], "expiry_days": 30}, "scopes"),
        ({"name": "x", "scopes": ["admin"], "expiry_days": 30}, "scopes"),
        ({"name": "x", "scopes": ["read"], "expiry_days": 5000}, "expiry_days"),
        ({"name": "x", "scopes": ["read"], "expiry_days": "soon"}, "expiry_days"),
    ):
        page = client.post("/api/tokens/", data)
        assert page.status_code == 400 and page.context["error_field"] == field, data
    assert not ApiToken.objects.exists()


def test_revoked_and_expired_tokens_get_401(client, bob):
    raw = token_for(bob)
    api = TokenClient(client, raw)
    assert api.get("/api/v1/budgets").status_code == 200
    token = ApiToken.objects.get(user=bob)
    client.force_login(bob)
    assert client.post(f"/api/tokens/{token.pk}/revoke/").status_code == 302
    client.logout()
    response = api.get("/api/v1/budgets")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["errors"] == [
        {"field": "Authorization", "message": "missing, unknown, revoked or expired token"}
    ]
    expired = token_for(bob)
    ApiToken.objects.filter(digest=tokens.digest(expired)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert TokenClient(client, expired).get("/api/v1/budgets").status_code == 401
    for header in ("", "Bearer", "Bearer spk_nope", "Basic Ym9iOnB3", f"Token {raw}"):
        assert client.get("/api/v1/budgets", headers={"Authorization": header}).status_code == 401


def test_nobody_revokes_someone_elses_token(client, bob, erin):
    raw = token_for(bob)
    token = ApiToken.objects.get(user=bob)
    client.force_login(erin)
    client.post(f"/api/tokens/{token.pk}/revoke/")
    token.refresh_from_db()
    assert token.revoked_at is None
    client.logout()
    assert TokenClient(client, raw).get("/api/v1/budgets").status_code == 200


def test_an_inactive_users_token_gets_401(client, bob):
    api = TokenClient(client, token_for(bob))
    bob.is_active = False
    bob.save()
    assert api.get("/api/v1/budgets").status_code == 401


def test_a_read_token_gets_403_on_a_write(read_api):
    response = read_api.post("/api/v1/budgets", BUDGET)
    assert response.status_code == 403
    assert "budgets:write" in response.json()["detail"]
    assert read_api.post("/api/v1/scenarios", {"name": "x", "transforms": []}).status_code == 403
    assert read_api.post("/api/v1/allocation/teams", {"name": "Search"}).status_code == 403
    assert not Budget.objects.exists()


def test_an_engineering_users_token_cannot_write_budgets(client, erin):
    # Even with the scope (given before a role change, or written to the table by hand).
    token, raw = tokens.create_token(erin, "eng", ["read"], 30)
    ApiToken.objects.filter(pk=token.pk).update(scopes=["read", "budgets:write"])
    api = TokenClient(client, raw)
    response = api.post("/api/v1/budgets", BUDGET)
    assert response.status_code == 403
    assert "role" in response.json()["detail"]
    assert api.post("/api/v1/allocation/teams", {"name": "Search"}).status_code == 403
    assert not Budget.objects.exists()


def test_a_token_loses_what_its_user_loses(client, bob):
    api = TokenClient(client, token_for(bob, ("read", "budgets:write")))
    assert api.post("/api/v1/budgets", BUDGET).status_code == 201
    bob.groups.remove(Group.objects.get(name="Finance"))
    assert api.post("/api/v1/budgets", {**BUDGET, "name": "Other"}).status_code == 403
    assert api.get("/api/v1/budgets").status_code == 403  # no role: no reading either


def test_rate_limit_per_token_answers_429_with_retry_after(client, bob, monkeypatch):
    monkeypatch.setattr(tokens, "RATE_LIMIT", 3)
    first = TokenClient(client, token_for(bob))
    second = TokenClient(client, token_for(bob))
    statuses = [first.get("/api/v1/budgets").status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]
    limited = first.get("/api/v1/budgets")
    assert limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= tokens.RATE_WINDOW_SECONDS
    assert limited.json()["detail"].startswith("rate limit")
    assert second.get("/api/v1/budgets").status_code == 200  # per token


def test_every_write_is_in_the_audit_log_with_the_tokens_user(finance_api, bob):
    created = finance_api.post("/api/v1/budgets", BUDGET)
    assert created.status_code == 201, created.content
    budget_id = created.json()["id"]
    entry = LogEntry.objects.get_for_object(Budget.objects.get(pk=budget_id)).get()
    assert entry.action == LogEntry.Action.CREATE and entry.actor == bob
    alert = AlertEvent.objects.create(
        budget_id=budget_id, kind="threshold", period_start=timezone.now().date(), threshold=80
    )
    acked = finance_api.post(f"/api/v1/alerts/{alert.pk}/acknowledge")
    assert acked.status_code == 200 and acked.json()["acknowledged_at"]
    assert LogEntry.objects.get_for_object(alert).get().actor == bob
    team = finance_api.post("/api/v1/allocation/teams", {"name": "Search"})
    assert team.status_code == 201, team.content
    scenario = finance_api.post("/api/v1/scenarios", {"name": "Plan", "transforms": []})
    assert scenario.status_code == 201, scenario.content
    assert finance_api.delete(f"/api/v1/scenarios/{scenario.json()['slug']}").status_code == 204
    assert finance_api.delete(f"/api/v1/budgets/{budget_id}").status_code == 204
    actions = list(LogEntry.objects.filter(actor=bob).values_list("content_type__model", "action"))
    assert ("team", LogEntry.Action.CREATE) in actions
    assert ("scenario", LogEntry.Action.CREATE) in actions
    assert ("scenario", LogEntry.Action.DELETE) in actions
    assert ("budget", LogEntry.Action.DELETE) in actions
    # The token's creation is logged too, without its digest.
    token_entry = LogEntry.objects.filter(content_type__model="apitoken").first()
    assert token_entry is not None and "digest" not in (token_entry.changes or "")
