"""Every page needs a login, and the right role; the groups exist from the start."""

import pytest
from django.contrib.auth.models import Group
from django.urls import URLPattern, URLResolver, get_resolver, reverse

PUBLIC = {"/healthz", "/accounts/login/", "/admin/login/", "/favicon.ico"}


def _static_paths(resolver: URLResolver, prefix: str = "") -> list[str]:
    """Every URL of the project that takes no arguments."""
    paths = []
    for entry in resolver.url_patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            paths += _static_paths(entry, route)
        elif isinstance(entry, URLPattern) and "<" not in route and "(" not in route:
            paths.append("/" + route.lstrip("^").rstrip("$").replace("\\", ""))
    return paths


@pytest.mark.django_db
def test_every_url_but_health_and_login_redirects_anonymous_users_to_login(client):
    paths = [p for p in _static_paths(get_resolver()) if p not in PUBLIC]
    assert "/" in paths and "/admin/" in paths  # the walk found the pages
    assert any(p.startswith("/api/v1/") for p in paths)
    for path in paths:
        response = client.get(path)
        if path.startswith("/api/v1/"):
            # The API answers machines: 401 in JSON, never a redirect to a login form (405
            # for a GET of a POST-only endpoint, before any data is read).
            assert response.status_code in (401, 405), path
            if response.status_code == 401:
                assert response["Content-Type"].startswith("application/json"), path
            continue
        assert response.status_code == 302, path
        assert "/login/" in response["Location"], path


@pytest.mark.django_db
def test_public_pages_open_without_login(client):
    assert client.get("/healthz").status_code == 200
    assert client.get("/accounts/login/").status_code == 200
    icon = client.get("/favicon.ico")  # browsers ask for it on any page: no 404 in the log
    assert icon.status_code == 301 and "img/favicon" in icon["Location"]


def test_the_role_groups_are_created_by_migration(db):
    assert set(Group.objects.values_list("name", flat=True)) >= {"Finance", "Engineering"}


def test_finance_and_engineering_see_the_overview(client, bob, erin):
    for user in (bob, erin):
        client.force_login(user)
        assert client.get(reverse("overview")).status_code == 200


def test_a_user_without_a_role_is_refused(client, charlie):
    client.force_login(charlie)
    response = client.get(reverse("overview"))
    assert response.status_code == 403
    assert b"Not allowed" in response.content


def test_only_staff_reach_the_admin(client, bob, alice):
    client.force_login(bob)
    assert client.get("/admin/").status_code == 302
    client.force_login(alice)
    assert client.get("/admin/").status_code == 200


def test_login_page_logs_a_user_in(client, bob):
    from tests.conftest import PASSWORD

    response = client.post(reverse("login"), {"username": "bob", "password": PASSWORD})
    assert response.status_code == 302
    assert client.get("/").status_code == 200


def test_wrong_password_shows_an_error(client, bob):
    response = client.post(reverse("login"), {"username": "bob", "password": "nope"})
    assert response.status_code == 200
    assert b"didn't match" in response.content


def test_password_change_page_renders_in_the_product_look(client, bob):
    client.force_login(bob)
    response = client.get(reverse("password_change"))
    assert response.status_code == 200
    assert b"spendapp" in response.content.lower() and b"Change password" in response.content


def test_logout_needs_a_post_and_ends_the_session(client, bob):
    client.force_login(bob)
    response = client.post(reverse("logout"))
    assert response.status_code == 302
    assert client.get("/").status_code == 302
