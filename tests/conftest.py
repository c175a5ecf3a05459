"""Shared fixtures: a fixed cast of users and collected static files.

alice is a staff admin, bob is in Finance, erin in Engineering, charlie has no role.
"""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, User
from django.core.management import call_command

PASSWORD = "correct-horse-battery-staple"


@pytest.fixture(scope="session", autouse=True)
def _collected_static(django_db_blocker):
    # Pages use the manifest storage as in production, which needs collectstatic first.
    call_command("collectstatic", "--noinput", verbosity=0)


def _user(username: str, *, group: str | None = None, staff: bool = False) -> User:
    user = User.objects.create_user(
        username, f"{username}@example.com", PASSWORD, is_staff=staff, is_superuser=staff
    )
    if group:
        # get_or_create: a transactional test's flush also empties the migration's groups.
        user.groups.add(Group.objects.get_or_create(name=group)[0])
    return user


@pytest.fixture
def alice(db) -> User:
    return _user("alice", staff=True)


@pytest.fixture
def bob(db) -> User:
    return _user("bob", group="Finance")


@pytest.fixture
def erin(db) -> User:
    return _user("erin", group="Engineering")


@pytest.fixture
def charlie(db) -> User:
    return _user("charlie")


@pytest.fixture
def finance_client(client, bob):
    client.force_login(bob)
    return client


@pytest.fixture
def admin_client_(client, alice):
    client.force_login(alice)
    return client
