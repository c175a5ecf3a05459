"""Paging, bucket alignment, time-range semantics and empty buckets."""

from __future__ import annotations

from datetime import datetime

from .conftest import all_buckets, all_pages, get_ok

OA_USAGE = "/organization/usage/completions"
OA_COSTS = "/organization/costs"
AN_USAGE = "/v1/organizations/usage_report/messages"
AN_COSTS = "/v1/organizations/cost_report"
DAY = 86400


def ts(text: str) -> int:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())


def test_openai_pages_to_the_end(fake, oa):
    start = fake.org.start_ts
    pages = all_pages(
        oa,
        OA_USAGE,
        [("start_time", start), ("bucket_width", "1d"), ("limit", 10), ("group_by", "model")],
    )
    buckets = [b for p in pages for b in p["data"]]
    assert all(len(p["data"]) == 10 for p in pages[:-1])
    first_day = start - start % DAY
    assert buckets[0]["start_time"] == first_day
    assert [b["start_time"] for b in buckets] == list(
        range(first_day, first_day + DAY * len(buckets), DAY)
    )
    assert all(b["end_time"] == b["start_time"] + DAY for b in buckets)
    # the last bucket is the (partial) current day holding `end`
    assert buckets[-1]["start_time"] <= fake.org.end_ts < buckets[-1]["end_time"]
    assert all(p["object"] == "page" for p in pages)
    assert all(b["object"] == "bucket" for b in buckets)
    assert pages[0]["next_page"].startswith("page_")


def test_anthropic_pages_to_the_end(fake, an):
    buckets = all_buckets(
        an,
        AN_USAGE,
        [("starting_at", "2026-05-10T00:00:00Z"), ("bucket_width", "1h"), ("limit", 50)],
    )
    starts = [ts(b["starting_at"]) for b in buckets]
    assert starts == list(range(ts("2026-05-10T00:00:00Z"), fake.org.end_ts, 3600))
    assert all(ts(b["ending_at"]) - ts(b["starting_at"]) == 3600 for b in buckets)
    assert all(b["starting_at"].endswith("Z") for b in buckets)


def test_cursor_is_opaque_and_tamper_evident(oa, an):
    body = get_ok(oa, OA_COSTS, [("start_time", 1775001600), ("limit", 2)])
    cursor = body["next_page"]
    assert body["has_more"] and cursor.startswith("page_")
    bad = cursor[:-3] + ("AAA" if not cursor.endswith("AAA") else "BBB")
    assert oa.get(OA_COSTS, params=[("start_time", 1775001600), ("page", bad)]).status_code == 400
    body = get_ok(an, AN_COSTS, [("starting_at", "2026-04-01T00:00:00Z"), ("limit", 2)])
    assert body["has_more"] and isinstance(body["next_page"], str)
    nxt = get_ok(
        an,
        AN_COSTS,
        [("starting_at", "2026-04-01T00:00:00Z"), ("limit", 2), ("page", body["next_page"])],
    )
    assert nxt["data"][0]["starting_at"] == "2026-04-03T00:00:00Z"


def test_openai_end_time_is_exclusive(oa):
    d0 = ts("2026-05-01T00:00:00Z")
    one = get_ok(oa, OA_USAGE, [("start_time", d0), ("end_time", d0 + DAY)])["data"]
    assert [b["start_time"] for b in one] == [d0]
    two = get_ok(oa, OA_USAGE, [("start_time", d0), ("end_time", d0 + DAY + 1)])["data"]
    assert [b["start_time"] for b in two] == [d0, d0 + DAY]


def test_openai_start_time_aligned_down(oa):
    d0 = ts("2026-05-01T00:00:00Z")
    data = get_ok(oa, OA_USAGE, [("start_time", d0 + 5000), ("bucket_width", "1h"), ("limit", 2)])[
        "data"
    ]
    assert [b["start_time"] for b in data] == [d0 + 3600, d0 + 7200]


def test_anthropic_ending_at_and_snapping(an):
    data = get_ok(
        an,
        AN_USAGE,
        [("starting_at", "2026-05-01T00:00:00Z"), ("ending_at", "2026-05-03T00:00:00Z")],
    )["data"]
    assert [b["starting_at"] for b in data] == ["2026-05-01T00:00:00Z", "2026-05-02T00:00:00Z"]
    data = get_ok(
        an,
        AN_USAGE,
        [("starting_at", "2026-05-01T00:00:00Z"), ("ending_at", "2026-05-03T06:00:00Z")],
    )["data"]
    assert len(data) == 2  # only buckets that end before ending_at
    data = get_ok(
        an,
        AN_USAGE,
        [("starting_at", "2026-05-01T13:45:12Z"), ("bucket_width", "1h"), ("limit", 1)],
    )["data"]
    assert data[0]["starting_at"] == "2026-05-01T13:00:00Z"


def test_empty_buckets_are_included(fake, an, oa):
    before = "2026-01-01T00:00:00Z"  # data starts 2026-01-20 15:00
    data = get_ok(an, AN_USAGE, [("starting_at", before), ("limit", 31)])["data"]
    assert len(data) == 31
    assert all(b["results"] == [] for b in data[:19])
    assert data[19]["results"]  # 2026-01-20: the partial first day
    data = get_ok(an, AN_COSTS, [("starting_at", before), ("limit", 5)])["data"]
    assert len(data) == 5 and all(b["results"] == [] for b in data)
    data = get_ok(oa, OA_USAGE, [("start_time", ts(before)), ("limit", 5)])["data"]
    assert len(data) == 5 and all(b["results"] == [] for b in data)


def test_nothing_after_now(fake, oa, an):
    future = fake.org.end_ts + 3 * DAY
    body = get_ok(oa, OA_USAGE, [("start_time", future)])
    assert body == {"object": "page", "data": [], "has_more": False, "next_page": None}
    body = get_ok(an, AN_USAGE, [("starting_at", "2027-01-01T00:00:00Z")])
    assert body == {"data": [], "has_more": False, "next_page": None}


def test_limit_counts_buckets_not_results(oa):
    data = get_ok(
        oa,
        OA_USAGE,
        [
            ("start_time", ts("2026-05-04T00:00:00Z")),
            ("limit", 2),
            ("group_by", "project_id"),
            ("group_by", "api_key_id"),
            ("group_by", "model"),
        ],
    )["data"]
    assert len(data) == 2
    assert len(data[0]["results"]) > 10
