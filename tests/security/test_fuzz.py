"""Fuzzing every dashboard URL's query string and every form with hypothesis.

Dates at the edges of the calendar, NUL bytes, huge and non-finite numbers, unicode, long
strings and deeply nested JSON: the answer is never a 500, and never takes over 2 s
(hypothesis' deadline). The example counts are bounded so this file runs in about a minute.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.django_db

EDGE_DATES = ["0001-01-01", "9999-12-31", "1999-12-31", "2101-01-01", "2026-02-29", "2024-02-29"]
NUMBERS = ["1e308", "-1e308", "1e300", "NaN", "inf", "-0", "99999999999999999999999", "-1", "0"]
text = st.one_of(
    st.sampled_from(EDGE_DATES + NUMBERS + ["", " ", "\x00", "a\x00b", "(none)", "%00"]),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=40),
    st.text(min_size=2000, max_size=5000, alphabet="ab\u00e9\u4e2d\U0001f600"),
    st.integers(1, 9999).map(lambda n: f"{n:04d}-{n % 13:02d}"),
    st.integers(1, 3000).map(lambda depth: "[" * depth + "]" * depth),
)
deep_json = st.integers(1, 5000).map(lambda depth: "[" * depth + "]" * depth)
transforms = st.one_of(
    deep_json,
    st.sampled_from(
        [
            '[{"type": "growth", "factor": 1e300}]',
            '[{"type": "growth", "factor": NaN}]',
            json.dumps([{"type": "fewer_calls", "reduction": 0.1}] * 1000),
            '[{"type": "fewer_calls", "reduction": 0.1, "start": "9999-12-31"}]',
        ]
    ),
    text,
)
FUZZ = settings(
    max_examples=15,
    deadline=timedelta(seconds=2),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# Each dashboard page and the parameters it reads (plus one it does not know).
PAGES = {
    "/": ["from", "to"],
    "/explorer/": ["from", "to", "by", "granularity", "metric", "chart", "model", "project"],
    "/explorer/export.csv": ["from", "to", "by", "granularity", "model"],
    "/forecast/": ["horizon", "series", "provider", "model"],
    "/scenarios/": ["compare", "edit", "s"],
    "/data-health/": ["from", "to"],
    "/budgets/": [],
    "/allocation/": [],
    "/allocation/chargeback/": ["month", "format", "team"],
}


@pytest.fixture
def finance(client, bob, spend_data):
    client.force_login(bob)
    return client


def _check(response):
    assert response.status_code < 500, response.content[:500]


@pytest.mark.parametrize("path", sorted(PAGES))
def test_no_query_string_breaks_a_page(finance, path):
    names = st.sampled_from([*PAGES[path], "unknown\x00", "zz"]) if PAGES[path] else st.just("zz")
    # The day's first visit may compute and store a forecast (seconds, once a day): the
    # deadline is about what an input costs, so the page is opened once before fuzzing.
    _check(finance.get(path))

    @FUZZ
    @given(st.dictionaries(names, text, max_size=4))
    def fuzz(params):
        _check(finance.get(path, params))

    fuzz()


FORMS = {
    "/scenarios/": {"name": text, "notes": text, "transforms": transforms},
    "/scenarios/save/": {"name": text, "notes": text, "transforms": transforms, "slug": text},
    "/budgets/new/": {
        "name": text,
        "scope": st.sampled_from(["org", "project", "team", "tier", "provider", "x\x00"]),
        "scope_value": text,
        "period": st.sampled_from(["month", "quarter", "year", "day", "\x00"]),
        "amount": text,
        "currency": text,
        "thresholds": text,
        "forecast_probability": text,
        "anomaly_z": text,
        "extra_emails": text,
        "webhook_url": st.sampled_from(
            ["https://169.254.169.254/", "http://127.0.0.1/", "https://[::1]/", "nope"]
        ),
        "webhook_format": text,
    },
    "/allocation/teams/new/": {"name": text, "code": text, "kind": text, "owner_email": text},
    "/allocation/rules/new/": {
        "dimension": st.sampled_from(["project", "api_key", "model", "x"]),
        "value": text,
        "team": text,
        "valid_from": text,
        "valid_until": text,
        "priority": text,
    },
    "/allocation/shared/new/": {"name": text, "method": text},
}


@pytest.mark.parametrize("path", sorted(FORMS))
def test_no_form_input_breaks_a_form(finance, path):
    _check(finance.get("/scenarios/"))  # the day's forecast, stored once (see above)

    @FUZZ
    @given(st.fixed_dictionaries({}, optional=FORMS[path]))
    def fuzz(form):
        _check(finance.post(path, form))

    fuzz()
