"""API fixtures: tokens of the cast (bob Finance, erin Engineering) and a client sending them."""

from __future__ import annotations

import pytest

from spendapp.api.tokens import create_token
from tests.dashboard.conftest import accounts, frozen_now, spend_data  # noqa: F401


class TokenClient:
    """Django's test client with ``Authorization: Bearer <token>`` on every request."""

    def __init__(self, client, raw: str):
        self.client = client
        self.raw = raw
        self.headers = {"Authorization": f"Bearer {raw}"}

    def get(self, path, params=None, **kw):
        return self.client.get(path, params or {}, headers=self.headers, **kw)

    def post(self, path, data=None, **kw):
        return self.client.post(
            path, data or {}, content_type="application/json", headers=self.headers, **kw
        )

    def put(self, path, data=None, **kw):
        return self.client.put(
            path, data or {}, content_type="application/json", headers=self.headers, **kw
        )

    def delete(self, path, **kw):
        return self.client.delete(path, headers=self.headers, **kw)


def token_for(user, scopes=("read",), days=30) -> str:
    return create_token(user, "test", list(scopes), days)[1]


@pytest.fixture
def finance_api(client, bob):
    return TokenClient(
        client, token_for(bob, ("read", "budgets:write", "allocation:write", "scenarios:write"))
    )


@pytest.fixture
def engineering_api(client, erin):
    return TokenClient(client, token_for(erin, ("read", "scenarios:write")))


@pytest.fixture
def read_api(client, bob):
    return TokenClient(client, token_for(bob, ("read",)))
