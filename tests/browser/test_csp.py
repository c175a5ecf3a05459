"""The Content-Security-Policy is enforced in the browser, and the browser tests see every
violation: an injected inline script does not run, and the session's console log has it."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_an_injected_inline_script_is_blocked_and_reported(session):
    session.login("bob")
    session.open("/explorer/")
    ran = session.page.evaluate(
        """() => new Promise(resolve => {
            window.__injected = false;
            const script = document.createElement('script');
            script.textContent = 'window.__injected = true';
            document.head.appendChild(script);
            setTimeout(() => resolve(window.__injected), 200);
        })"""
    )
    assert ran is False
    errors = session.console.take()
    assert any("CSP violation: script-src" in e for e in errors), errors


def test_the_admin_opens_under_the_policy(session):
    session.login("alice", next_path="/admin/")
    for path in ("/admin/", "/admin/budgets/budget/add/", "/admin/providers/provideraccount/"):
        response = session.page.goto(session.url(path))
        assert response.status == 200
        assert "script-src 'self'" in response.headers["content-security-policy"]
    # The admin links no favicon, so the browser's own request for one is a 404: not ours.
    errors = [e for e in session.console.take() if "favicon.ico" not in e]
    assert errors == []
