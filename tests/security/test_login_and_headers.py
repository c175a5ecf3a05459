"""Finding 8 (login throttling, failed logins logged) and the headers of finding 12."""

from __future__ import annotations

import logging

import pytest
from axes.models import AccessAttempt

from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client, password: str):
    return client.post("/accounts/login/", {"username": "bob", "password": password})


def test_five_wrong_passwords_lock_the_login_even_with_the_right_one_after(client, bob):
    for _ in range(5):
        assert _login(client, "wrong").status_code in (200, 429)
    response = _login(client, PASSWORD)
    assert response.status_code == 429
    assert "_auth_user_id" not in client.session


def test_a_right_password_before_the_limit_logs_in_and_resets_the_count(client, bob):
    for _ in range(3):
        _login(client, "wrong")
    response = _login(client, PASSWORD)
    assert response.status_code == 302
    assert not AccessAttempt.objects.filter(username="bob", failures_since_start__gt=0).exists()


def test_each_failed_login_is_logged_and_stored(client, bob, caplog):
    with caplog.at_level(logging.WARNING):
        _login(client, "wrong")
    assert any("login failure" in r.getMessage().lower() for r in caplog.records)
    assert AccessAttempt.objects.get(username="bob").failures_since_start == 1
    assert "wrong" not in caplog.text  # the password tried is never logged


def test_pages_carry_an_enforced_content_security_policy(client, bob):
    client.force_login(bob)
    policy = client.get("/").headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("style-src-attr")[0]
    assert "unsafe-eval" not in policy
    assert "frame-ancestors 'none'" in policy
