"""Fixtures for the fake provider server tests: real HTTP over loopback, no database."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from spendapp.providers.fake import FakeProviderServer

END = "2026-05-20T15"  # fixed data end: 2026-05-20 15:00 UTC (a Wednesday)
SEED = 7
AN_VERSION = "2023-06-01"


def openai_client(fake: FakeProviderServer, **kw) -> httpx.Client:
    return httpx.Client(
        base_url=fake.openai_base_url,
        headers={"Authorization": f"Bearer {fake.openai_key}"},
        timeout=kw.pop("timeout", 20),
        **kw,
    )


def anthropic_client(fake: FakeProviderServer, **kw) -> httpx.Client:
    return httpx.Client(
        base_url=fake.anthropic_base_url,
        headers={"x-api-key": fake.anthropic_key, "anthropic-version": AN_VERSION},
        timeout=kw.pop("timeout", 20),
        **kw,
    )


@pytest.fixture(scope="session")
def fake() -> Iterator[FakeProviderServer]:
    with FakeProviderServer(seed=SEED, days=120, end=END) as server:
        yield server


@pytest.fixture(scope="session")
def oa(fake) -> Iterator[httpx.Client]:
    with openai_client(fake) as client:
        yield client


@pytest.fixture(scope="session")
def an(fake) -> Iterator[httpx.Client]:
    with anthropic_client(fake) as client:
        yield client


def get_ok(client: httpx.Client, path: str, params) -> dict:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def all_pages(client: httpx.Client, path: str, params: list[tuple]) -> list[dict]:
    """Every page of a usage/cost query, following next_page."""
    pages = []
    page = None
    for _ in range(1000):
        query = list(params) + ([("page", page)] if page else [])
        body = get_ok(client, path, query)
        pages.append(body)
        if not body["has_more"]:
            assert body["next_page"] is None
            return pages
        page = body["next_page"]
        assert isinstance(page, str) and page
    raise AssertionError("pagination did not end")


def all_buckets(client: httpx.Client, path: str, params: list[tuple]) -> list[dict]:
    return [b for p in all_pages(client, path, params) for b in p["data"]]
