"""The key never appears in exceptions, logs, reprs or URLs; KeyScrubbingFilter scrubs logs."""

from __future__ import annotations

import logging
import sys
import traceback
from datetime import UTC, datetime, timedelta

import pytest

from spendapp.providers.connectors import AnthropicConnector, OpenAIConnector
from spendapp.providers.connectors.base import Secret
from spendapp.providers.connectors.http import HttpClient
from spendapp.providers.connectors.logfilter import KeyScrubbingFilter, scrub
from spendapp.providers.errors import ProviderError

from .conftest import ANTHROPIC_KEY, OPENAI_KEY, Reply

START = datetime(2026, 3, 2, tzinfo=UTC)
ODD_KEY = "weird-secret-key-ZZZ-1234567890"  # matches none of the patterns


def scenarios(key):
    echo = {
        "error": {
            "message": f"Incorrect API key provided: {key}",
            "type": "x",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    anth_echo = {
        "type": "error",
        "error": {"type": "invalid_request_error", "message": f"bad header x-api-key: {key}"},
    }
    return [
        [Reply(401, echo)],
        [Reply(403, anth_echo)],
        [Reply(400, anth_echo)],
        [Reply(404, f"no route for key {key}")],
        [Reply(429, echo)] * 3,
        [Reply(500, echo), Reply(529, anth_echo), Reply(503, f"Bearer {key}")],
        [Reply(200, {"late": True}, delay=0.5)] * 3,
        [Reply(200, f"{{not json {key}")],
        [
            Reply(
                200,
                {
                    "object": "page",
                    "data": [{"start_time": key}],
                    "has_more": False,
                    "next_page": None,
                },
            )
        ],
        [
            Reply(
                200,
                {
                    "data": [{"starting_at": key, "ending_at": key, "results": []}],
                    "has_more": False,
                    "next_page": None,
                },
            )
        ],
    ]


@pytest.mark.parametrize(
    ("cls", "key"),
    [
        (OpenAIConnector, OPENAI_KEY),
        (AnthropicConnector, ANTHROPIC_KEY),
        (OpenAIConnector, ODD_KEY),
        (AnthropicConnector, ODD_KEY),
    ],
)
def test_key_never_leaks(server, sleeps, caplog, cls, key):
    client = HttpClient(
        connect_timeout=0.2, read_timeout=0.2, max_attempts=3, sleep=sleeps.append, rand=lambda: 0.0
    )
    conn = cls(server.base_url, key, client=client)
    texts: list[str] = [repr(conn), str(conn), repr(client), repr(vars(conn))]
    with caplog.at_level(logging.DEBUG):  # every logger, including httpx/httpcore
        for script in scenarios(key):
            server.replies.clear()
            server.add(*script)
            with pytest.raises(ProviderError) as info:
                for endpoint in conn.endpoints():
                    list(conn.fetch_pages(endpoint, START, START + timedelta(days=1)))
            exc = info.value
            texts += [str(exc), repr(exc), str(exc.args)]
            texts.append("".join(traceback.format_exception(exc)))
            logging.getLogger("spendapp.test").exception("sync failed: %s", exc)
        server.replies.clear()
        server.add(Reply(401, {"error": {"message": f"key {key} revoked"}}))
        with pytest.raises(ProviderError) as info:
            conn.names()
        texts.append(str(info.value))
    texts.append(caplog.text)
    texts += [r.getMessage() for r in caplog.records]
    assert caplog.records, "expected some log output to inspect"
    for text in texts:
        assert key not in text
    # The key went only in a header, never in a URL.
    for seen in server.requests:
        assert key not in seen.raw_target
    header = "authorization" if cls is OpenAIConnector else "x-api-key"
    assert all(key in s.headers[header] for s in server.requests)


def test_repr_of_connector_and_secret():
    conn = OpenAIConnector("https://api.openai.com/v1", OPENAI_KEY)
    assert repr(conn) == "OpenAIConnector(base_url='https://api.openai.com/v1')"
    assert OPENAI_KEY not in repr(conn.__dict__)
    secret = Secret(OPENAI_KEY)
    assert OPENAI_KEY not in repr(secret) and OPENAI_KEY not in str(secret)
    assert OPENAI_KEY not in f"{secret}" and secret.reveal() == OPENAI_KEY


@pytest.mark.parametrize(
    ("text", "clean"),
    [
        ("key sk-admin-abcdefghijklmnop end", "key sk-admin-*** end"),
        ("sk-ant-admin01-AbC_dEf-123456789xyz", "sk-ant-admin01-***"),
        ("sk-ant-api03-AbCdEf123456789", "sk-ant-api03-***"),
        ("sk-proj-AbCdEf123456789", "sk-proj-***"),
        ("(sk-abcdefghijklmnopqrstuv)", "(sk-***)"),
        ("Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.abc.def", "Authorization: Bearer ***"),
        ("{'x-api-key': 'abcdefgh12345678'}", "{'x-api-key': '***'}"),
        ("x-api-key=abcdefgh12345678&x=1", "x-api-key=***&x=1"),
        ("X-Api-Key: abcdefgh12345678", "X-Api-Key: ***"),
        ("task-manager and sk-short", "task-manager and sk-short"),  # too short to be a key
        (
            "GET /v1/organization/costs -> 200 in 12 ms",
            "GET /v1/organization/costs -> 200 in 12 ms",
        ),
    ],
)
def test_scrub_patterns(text, clean):
    assert scrub(text) == clean


def make_record(msg, args=(), exc_info=None):
    return logging.LogRecord("t", logging.INFO, __file__, 1, msg, args, exc_info)


def test_filter_scrubs_msg_and_args():
    f = KeyScrubbingFilter()
    rec = make_record("calling with %s and %r, %d pages", (OPENAI_KEY, ANTHROPIC_KEY, 3))
    assert f.filter(rec) is True
    out = rec.getMessage()
    assert OPENAI_KEY not in out and ANTHROPIC_KEY not in out
    assert out.endswith(", 3 pages")
    rec = make_record("headers %(h)s", ({"h": {"Authorization": f"Bearer {OPENAI_KEY}"}},))
    f.filter(rec)
    assert OPENAI_KEY not in rec.getMessage()
    rec = make_record(f"direct {ANTHROPIC_KEY}")
    f.filter(rec)
    assert ANTHROPIC_KEY not in rec.getMessage()


def test_filter_scrubs_registered_odd_keys():
    OpenAIConnector("", ODD_KEY)  # registers the key with the filter
    rec = make_record("oops %s", (ODD_KEY,))
    KeyScrubbingFilter().filter(rec)
    assert ODD_KEY not in rec.getMessage()


def test_filter_scrubs_tracebacks(caplog):
    try:
        raise RuntimeError(f"boom {OPENAI_KEY}")
    except RuntimeError:
        rec = make_record("failed", exc_info=sys.exc_info())
    KeyScrubbingFilter().filter(rec)
    formatted = logging.Formatter().format(rec)
    assert "RuntimeError: boom " in formatted
    assert OPENAI_KEY not in formatted


def test_filter_installed_on_a_handler(caplog):
    caplog.handler.addFilter(KeyScrubbingFilter())
    try:
        logging.getLogger("spendapp.anything").warning("key=%s", f"Bearer {ANTHROPIC_KEY}")
    finally:
        caplog.handler.removeFilter(caplog.handler.filters[-1])
    assert ANTHROPIC_KEY not in caplog.text and "Bearer ***" in caplog.text
