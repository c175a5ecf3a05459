"""Building a connector for a stored account, with the HTTP settings of this deployment."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from spendapp.providers.connectors import CONNECTORS, Connector, HttpClient, get_connector


def http_client() -> HttpClient:
    return HttpClient(
        connect_timeout=settings.PROVIDER_CONNECT_TIMEOUT,
        read_timeout=settings.PROVIDER_READ_TIMEOUT,
        max_attempts=settings.PROVIDER_MAX_ATTEMPTS,
        backoff_base=settings.PROVIDER_BACKOFF_BASE,
        max_wait=settings.PROVIDER_MAX_WAIT,
    )


@contextmanager
def open_connector(account) -> Iterator[Connector]:
    """The account's connector; its HTTP connections are closed on exit."""
    client = http_client()
    kw = {"client": client}
    # Connectors that need more than a key and a URL (an S3 bucket, an Azure tenant) read the
    # account's non-secret settings.
    if getattr(CONNECTORS.get(account.provider), "uses_settings", False):
        kw["settings"] = account.settings
    try:
        yield get_connector(account.provider, account.api_base_url, account.get_key(), **kw)
    finally:
        client.close()
