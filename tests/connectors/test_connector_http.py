"""HttpClient against a real loopback server: retries, Retry-After, timeouts, errors."""

from __future__ import annotations

import email.utils
import logging
import socket
import time
from decimal import Decimal

import pytest

from spendapp.providers.connectors.http import HttpClient, parse_retry_after
from spendapp.providers.errors import (
    MalformedResponse,
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailable,
)

from .conftest import Reply

OK = Reply(200, {"ok": True})


def url(server, path="/v1/organization/costs"):
    return server.base_url + path


def test_json_numbers_become_decimal(server, client):
    server.add(Reply(200, '{"value": 0.13080438, "n": 3, "big": 1e-7}'))
    body = client.get_json(url(server))
    assert body == {"value": Decimal("0.13080438"), "n": 3, "big": Decimal("1e-7")}
    assert isinstance(body["value"], Decimal)


def test_query_params_repeat_and_headers_are_sent(server, client):
    server.add(OK)
    client.get_json(
        url(server),
        params=[("group_by", "a"), ("group_by", "b"), ("group_by[]", "c")],
        headers={"x-test": "1"},
    )
    (seen,) = server.requests
    assert seen.params("group_by") == ["a", "b"]
    assert seen.params("group_by[]") == ["c"]
    assert seen.headers["x-test"] == "1"
    assert seen.headers["user-agent"].startswith("spendapp")


def test_429_with_retry_after_seconds_is_honoured(server, client, sleeps):
    server.add(Reply(429, {"error": {"message": "slow down"}}, {"Retry-After": "3"}), OK)
    assert client.get_json(url(server)) == {"ok": True}
    assert sleeps == [3.0]
    assert len(server.requests) == 2


def test_retry_after_http_date(server, client, sleeps):
    when = email.utils.formatdate(time.time() + 10, usegmt=True)
    server.add(Reply(503, "", {"Retry-After": when}), OK)
    client.get_json(url(server))
    assert len(sleeps) == 1 and 8.0 <= sleeps[0] <= 10.5


def test_parse_retry_after_forms():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after("1.5") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("-4") == 0.0
    past = email.utils.formatdate(time.time() - 100, usegmt=True)
    assert parse_retry_after(past) == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412480 - 60) == 60.0


def test_retry_after_beyond_cap_gives_up_at_once(server, sleeps):
    client = HttpClient(max_attempts=5, max_wait=30, sleep=sleeps.append)
    server.add(Reply(429, {"error": {"message": "quota"}}, {"Retry-After": "3600"}), OK)
    with pytest.raises(ProviderUnavailable, match="retry after 3600 s"):
        client.get_json(url(server))
    assert sleeps == [] and len(server.requests) == 1


@pytest.mark.parametrize("status", [500, 502, 503, 504, 529, 408])
def test_server_errors_retry_with_exponential_full_jitter(server, client, sleeps, status):
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    server.add(Reply(status, body), Reply(status, body), Reply(status, body), OK)
    assert client.get_json(url(server)) == {"ok": True}
    # rand() == 0.5: half of 1, 2, 4 seconds
    assert sleeps == [0.5, 1.0, 2.0]


def test_spend_cap_429_without_retry_after_retries_then_unavailable(server, client, sleeps):
    body = {
        "type": "error",
        "error": {"type": "rate_limit_error", "message": "You have reached your spend limit"},
    }
    server.handler = lambda seen: Reply(429, body)
    with pytest.raises(ProviderUnavailable) as info:
        client.get_json(url(server))
    assert len(server.requests) == client.max_attempts == 4
    assert len(sleeps) == 3
    assert "spend limit" in str(info.value)
    assert "HTTP 429" in str(info.value)
    assert "4 attempts" in str(info.value)


def test_backoff_is_capped_and_uses_the_jitter():
    client = HttpClient(backoff_base=1.0, max_wait=10.0, rand=lambda: 1.0)
    assert [client.backoff(n) for n in range(1, 7)] == [1, 2, 4, 8, 10, 10]
    zero = HttpClient(rand=lambda: 0.0)
    assert zero.backoff(3) == 0.0


def test_read_timeout_is_retried(server, client, sleeps):
    server.add(Reply(200, {"late": True}, delay=0.6), OK)
    started = time.monotonic()
    assert client.get_json(url(server)) == {"ok": True}
    assert time.monotonic() - started < 0.6  # gave up after ~0.2 s, did not wait for 0.6
    assert len(sleeps) == 1


def test_persistent_timeout_becomes_unavailable(server, client, sleeps):
    server.handler = lambda seen: Reply(200, {"late": True}, delay=0.5)
    with pytest.raises(ProviderUnavailable, match="timed out"):
        client.get_json(url(server))
    assert len(server.requests) == 4 and len(sleeps) == 3


def test_connection_refused_is_retried_then_unavailable(sleeps):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = HttpClient(connect_timeout=0.2, read_timeout=0.2, max_attempts=3, sleep=sleeps.append)
    with pytest.raises(ProviderUnavailable, match="connection failed"):
        client.get_json(f"http://127.0.0.1:{port}/v1/x")
    assert len(sleeps) == 2


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (
            401,
            {
                "error": {
                    "message": "Incorrect API key provided",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": "invalid_api_key",
                }
            },
            "Incorrect API key provided",
        ),
        (
            403,
            {
                "type": "error",
                "error": {"type": "permission_error", "message": "Not an admin key"},
                "request_id": "req_1",
            },
            "permission_error: Not an admin key",
        ),
    ],
)
def test_auth_errors_are_not_retried(server, client, sleeps, status, body, text):
    server.add(Reply(status, body, {"request-id": "req_123"}))
    with pytest.raises(ProviderAuthError) as info:
        client.get_json(url(server))
    assert text in str(info.value)
    assert f"HTTP {status}" in str(info.value)
    assert "req_123" in str(info.value)
    assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize(
    ("status", "body", "text"),
    [
        (
            400,
            {
                "error": {
                    "message": "limit must be <= 168",
                    "type": "invalid_request_error",
                    "param": "limit",
                    "code": None,
                }
            },
            "limit must be <= 168",
        ),
        (
            404,
            {"type": "error", "error": {"type": "not_found_error", "message": "Not found"}},
            "not_found_error: Not found",
        ),
        (402, {"type": "error", "error": {"type": "billing_error", "message": "Pay up"}}, "Pay up"),
        (422, "plain text <b>problem</b>", "plain text <b>problem</b>"),
        (302, "", "Found"),
    ],
)
def test_other_client_errors_are_request_errors(server, client, sleeps, status, body, text):
    server.add(Reply(status, body, {"Location": "http://example.invalid/"}))
    with pytest.raises(ProviderRequestError) as info:
        client.get_json(url(server))
    assert text in str(info.value)
    assert len(server.requests) == 1 and sleeps == []


@pytest.mark.parametrize("body", ["{not json", "", '{"v": NaN}', "[1, 2"])
def test_bad_json_is_malformed(server, client, body):
    server.add(Reply(200, body))
    with pytest.raises(MalformedResponse, match="not valid JSON"):
        client.get_json(url(server))


def test_each_request_is_logged_at_debug_without_query(server, client, caplog):
    server.add(Reply(500, ""), OK)
    with caplog.at_level(logging.DEBUG, logger="spendapp.providers.http"):
        client.get_json(url(server), params=[("start_time", "1730419200")])
    debug = [r.getMessage() for r in caplog.records if r.levelno == logging.DEBUG]
    assert len(debug) == 2
    assert debug[0].startswith("GET /v1/organization/costs -> 500 in ")
    assert debug[1].startswith("GET /v1/organization/costs -> 200 in ")
    assert all(m.endswith(" ms") for m in debug)
    assert not any("1730419200" in r.getMessage() for r in caplog.records)


def test_repr_shows_settings_only():
    client = HttpClient(read_timeout=5)
    assert repr(client) == "HttpClient(connect_timeout=10.0, read_timeout=5, max_attempts=6)"


def test_max_attempts_must_be_positive():
    with pytest.raises(ValueError):
        HttpClient(max_attempts=0)
