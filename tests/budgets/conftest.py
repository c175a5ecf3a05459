"""Budget fixtures: a provider account and daily spend rows written straight to the rollup."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest

from spendapp.budgets.models import Budget
from spendapp.providers.models import ProviderAccount
from spendapp.usage.models import DailySpend
from tests.e2e.conftest import workers  # noqa: F401  (the real-worker fixture, for the e2e test)


@pytest.fixture
def account(db) -> ProviderAccount:
    acct = ProviderAccount(name="openai-main", provider="openai")
    acct.set_key("sk-admin-test-0000000000")
    acct.save()
    return acct


class Spend:
    """Writes DailySpend rows: ``spend.add(day, "12.50", project="p1", model="gpt")``."""

    def __init__(self, account):
        self.account = account

    def add(self, day: date, cost, *, billed=None, project="proj_a", model="gpt-5", key="key_1"):
        DailySpend.objects.update_or_create(
            day=day,
            account=self.account,
            project_id=project,
            model=model,
            api_key_id=key,
            defaults={
                "provider": self.account.provider,
                "estimated_cost": None if cost is None else Decimal(str(cost)),
                "billed_cost": None if billed is None else Decimal(str(billed)),
            },
        )

    def daily(self, first: date, last: date, cost, **kw):
        day = first
        while day <= last:
            self.add(day, cost, **kw)
            day += timedelta(days=1)


@pytest.fixture
def spend(account) -> Spend:
    return Spend(account)


@pytest.fixture
def make_budget(db):
    def make(**kw) -> Budget:
        users = kw.pop("users", [])
        fields = {"name": f"Budget {Budget.objects.count() + 1}", "amount": Decimal("1000")}
        fields.update(kw)
        budget = Budget.objects.create(**fields)
        budget.notify_users.set(users)
        return budget

    return make
