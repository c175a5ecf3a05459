"""The audit log: configuration changes say who, when and what changed, never the key."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from io import StringIO

import pytest
from auditlog.models import LogEntry
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.urls import reverse

from forecasting.runs.models import Scenario
from spendapp.allocation.models import AllocationRule, Team
from spendapp.budgets.models import Budget
from spendapp.providers import crypto
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import PriceOverride

pytestmark = pytest.mark.django_db
SECRET = "sk-admin-very-secret-key-1234567890abcd"


def _entries(instance) -> list[LogEntry]:
    return list(LogEntry.objects.get_for_object(instance).order_by("timestamp"))


def _text_of_all_entries() -> str:
    return " ".join(f"{e.changes} {e.object_repr}" for e in LogEntry.objects.all())


def test_a_provider_account_change_in_the_admin_names_the_user_but_never_the_key(client, alice):
    client.force_login(alice)
    client.post(
        reverse("admin:providers_provideraccount_add"),
        {
            "provider": "openai",
            "name": "acme",
            "api_key": SECRET,
            "backfill_days": "30",
            "enabled": "on",
            "base_url": "",
        },
    )
    account = ProviderAccount.objects.get()
    (created,) = _entries(account)
    assert created.action == LogEntry.Action.CREATE and created.actor == alice
    assert "encrypted_key" not in created.changes_dict
    assert SECRET not in _text_of_all_entries()
    assert account.encrypted_key not in _text_of_all_entries()


def test_rotating_keys_is_logged_without_the_key(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FERNET_KEYS = [old]
    crypto._fernet.cache_clear()
    account = ProviderAccount(name="acme", provider="openai")
    account.set_key(SECRET)
    account.save()
    settings.FERNET_KEYS = [new, old]
    crypto._fernet.cache_clear()
    call_command("rotate_keys", stdout=StringIO())
    crypto._fernet.cache_clear()
    rotation = _entries(account)[-1]
    assert "re-encrypted" in str(rotation.changes)
    assert SECRET not in _text_of_all_entries()
    assert ProviderAccount.objects.get().encrypted_key not in _text_of_all_entries()


def test_budget_amounts_and_recipients_are_logged(bob):
    budget = Budget.objects.create(name="AI", amount=Decimal(100))
    budget.amount = Decimal(250)
    budget.save()
    budget.notify_users.add(bob)
    changes = [e.changes_dict for e in _entries(budget)]
    assert any(
        c.get("amount") == ["100", "250"] or c.get("amount") == ["100.00", "250"] for c in changes
    ), changes
    assert any("notify_users" in c for c in changes), changes


def test_allocation_rules_price_overrides_and_deleted_scenarios_are_logged(bob):
    team = Team.objects.create(name="Search")
    rule = AllocationRule(dimension="project", value="p", team=team, valid_from=date(2026, 1, 1))
    rule.save()
    override = PriceOverride.objects.create(
        provider="openai",
        model_pattern="gpt-5*",
        valid_from=date(2026, 1, 1),
        input_per_mtok=Decimal("1.5"),
    )
    scenario = Scenario(owner=bob, name="Plan", spec={"transforms": []})
    scenario.save()
    pk = scenario.pk
    scenario.delete()
    assert _entries(rule)[0].action == LogEntry.Action.CREATE
    assert _entries(override)[0].action == LogEntry.Action.CREATE
    deleted = LogEntry.objects.filter(object_pk=str(pk), action=LogEntry.Action.DELETE)
    assert deleted.filter(content_type__model="scenario").exists()
