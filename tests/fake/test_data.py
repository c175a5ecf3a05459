"""Data semantics: dimensions, aggregation, money units, truth, determinism, name lists."""

from __future__ import annotations

import time
from collections import defaultdict
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import pytest

from spendapp.providers.fake import FakeProviderServer, Organisation, truth

from .conftest import END, SEED, all_buckets, anthropic_client, get_ok, openai_client

OA_USAGE = "/organization/usage/completions"
OA_COSTS = "/organization/costs"
AN_USAGE = "/v1/organizations/usage_report/messages"
AN_COSTS = "/v1/organizations/cost_report"
WEEK = [("start_time", 1778457600), ("end_time", 1779062400)]  # 2026-05-11 .. 05-18
AN_WEEK = [("starting_at", "2026-05-11T00:00:00Z"), ("ending_at", "2026-05-18T00:00:00Z")]
OA_DIMS = ["project_id", "user_id", "api_key_id", "model", "batch", "service_tier"]
AN_DIMS = ["api_key_id", "workspace_id", "model", "service_tier", "context_window"]
OA_MEASURES = ["input_tokens", "output_tokens", "num_model_requests", "input_cached_tokens"]


def dec(body: str):
    import json

    return json.loads(body, parse_float=Decimal)


def an_measures(r: dict) -> tuple[int, ...]:
    return (
        r["uncached_input_tokens"],
        r["cache_creation"]["ephemeral_5m_input_tokens"],
        r["cache_creation"]["ephemeral_1h_input_tokens"],
        r["cache_read_input_tokens"],
        r["output_tokens"],
        r["server_tool_use"]["web_search_requests"],
    )


@pytest.mark.parametrize("group", [["model"], ["project_id", "batch"], ["service_tier"]])
def test_openai_dims_null_unless_grouped(oa, group):
    data = get_ok(oa, OA_USAGE, [*WEEK, *[("group_by", g) for g in group]])["data"]
    results = [r for b in data for r in b["results"]]
    assert results
    for r in results:
        for d in OA_DIMS:
            assert d in r
            if d in group:
                assert r[d] is not None
            else:
                assert r[d] is None


def test_openai_ungrouped_has_one_result_per_bucket(oa):
    data = get_ok(oa, OA_USAGE, WEEK)["data"]
    assert all(len(b["results"]) == 1 for b in data)
    assert all(all(b["results"][0][d] is None for d in OA_DIMS) for b in data)


def test_anthropic_dims_null_unless_grouped(an):
    data = get_ok(an, AN_USAGE, [*AN_WEEK, ("group_by[]", "model")])["data"]
    results = [r for b in data for r in b["results"]]
    assert results
    for r in results:
        assert r["model"] is not None
        assert all(r[d] is None for d in AN_DIMS if d != "model")
    data = get_ok(an, AN_COSTS, AN_WEEK)["data"]
    for b in data:
        assert len(b["results"]) == 1
        r = b["results"][0]
        assert r["workspace_id"] is None and r["description"] is None and r["model"] is None


def test_anthropic_default_workspace_is_null_when_grouped(fake, an):
    data = get_ok(
        an, AN_USAGE, [*AN_WEEK, ("group_by[]", "workspace_id"), ("group_by[]", "api_key_id")]
    )["data"]
    rows = [r for b in data for r in b["results"]]
    workspaces = {r["workspace_id"] for r in rows}
    assert None in workspaces
    assert {w["id"] for w in fake.org.an_workspaces} <= workspaces
    # Workbench usage: no API key even when grouped by it
    assert any(r["workspace_id"] is None and r["api_key_id"] is None for r in rows)


def test_openai_grouped_sums_to_ungrouped(oa):
    total = get_ok(oa, OA_USAGE, [*WEEK, ("bucket_width", "1d")])["data"]
    grouped = get_ok(oa, OA_USAGE, [*WEEK, *[("group_by", d) for d in OA_DIMS]])["data"]
    for t, g in zip(total, grouped, strict=True):
        for m in OA_MEASURES:
            assert t["results"][0][m] == sum(r[m] for r in g["results"])


def test_openai_hours_sum_to_days_and_minutes_to_hours(oa):
    day = get_ok(
        oa, OA_USAGE, [("start_time", 1778457600), ("end_time", 1778544000), ("group_by", "model")]
    )["data"]
    hours = get_ok(
        oa,
        OA_USAGE,
        [
            ("start_time", 1778457600),
            ("end_time", 1778544000),
            ("bucket_width", "1h"),
            ("group_by", "model"),
        ],
    )["data"]
    assert len(hours) == 24
    by_model = defaultdict(lambda: defaultdict(int))
    for b in hours:
        for r in b["results"]:
            for m in OA_MEASURES:
                by_model[r["model"]][m] += r[m]
    for r in day[0]["results"]:
        assert {m: r[m] for m in OA_MEASURES} == dict(by_model[r["model"]])
    minutes = get_ok(
        oa,
        OA_USAGE,
        [("start_time", 1778457600 + 14 * 3600), ("limit", 60), ("bucket_width", "1m")],
    )["data"]
    hour = get_ok(
        oa, OA_USAGE, [("start_time", 1778457600 + 14 * 3600), ("limit", 1), ("bucket_width", "1h")]
    )["data"][0]["results"][0]
    for m in OA_MEASURES:
        assert sum(r[m] for b in minutes for r in b["results"]) == hour[m]
    assert all(b["end_time"] - b["start_time"] == 60 for b in minutes)


def test_anthropic_grouped_sums_to_ungrouped(an):
    total = get_ok(an, AN_USAGE, AN_WEEK)["data"]
    grouped = get_ok(an, AN_USAGE, [*AN_WEEK, *[("group_by[]", d) for d in AN_DIMS]])["data"]
    for t, g in zip(total, grouped, strict=True):
        sums = tuple(map(sum, zip(*(an_measures(r) for r in g["results"]), strict=True)))
        assert an_measures(t["results"][0]) == sums


def test_costs_grouped_sum_exactly_to_ungrouped(oa, an):
    total = dec(oa.get(OA_COSTS, params=WEEK).text)["data"]
    grouped = dec(
        oa.get(
            OA_COSTS,
            params=[
                *WEEK,
                ("group_by", "project_id"),
                ("group_by", "line_item"),
                ("group_by", "api_key_id"),
            ],
        ).text
    )["data"]
    for t, g in zip(total, grouped, strict=True):
        assert t["results"][0]["amount"]["value"] == sum(r["amount"]["value"] for r in g["results"])
        assert all(r["amount"]["currency"] == "usd" for r in g["results"])
    total = get_ok(an, AN_COSTS, AN_WEEK)["data"]
    grouped = get_ok(
        an, AN_COSTS, [*AN_WEEK, ("group_by[]", "workspace_id"), ("group_by[]", "description")]
    )["data"]
    for t, g in zip(total, grouped, strict=True):
        assert Decimal(t["results"][0]["amount"]) == sum(Decimal(r["amount"]) for r in g["results"])
        assert {r["currency"] for r in g["results"]} == {"USD"}


def test_money_units_and_decimals(oa, an):
    for b in dec(oa.get(OA_COSTS, params=[*WEEK, ("group_by", "line_item")]).text)["data"]:
        for r in b["results"]:
            value = r["amount"]["value"]
            assert value == value.quantize(Decimal("0.000001"))
            if r["line_item"] != "web search tool calls":
                _model, _, kind = r["line_item"].partition(", ")
                assert kind in {"input", "cached input", "output"}
                assert r["quantity_unit"] == "tokens" and r["quantity"] > 0
    for b in get_ok(an, AN_COSTS, [*AN_WEEK, ("group_by[]", "description")])["data"]:
        for r in b["results"]:
            assert isinstance(r["amount"], str)
            amount = Decimal(r["amount"])
            assert amount == amount.quantize(Decimal("0.00001"))
            if r["cost_type"] == "tokens":
                assert r["description"].startswith("Claude ")
                assert r["model"] and r["token_type"] and r["service_tier"]
                assert r["context_window"] in ("0-200k", "200k-1M")
            else:
                assert r["model"] is None and r["token_type"] is None


def test_anthropic_cents_equal_truth_dollars_times_100(fake, an):
    data = get_ok(an, AN_COSTS, [*AN_WEEK, ("group_by[]", "workspace_id")])["data"]
    got = defaultdict(Decimal)
    for b in data:
        for r in b["results"]:
            got[(b["starting_at"][:10], r["workspace_id"] or "default")] += Decimal(r["amount"])
    want = defaultdict(Decimal)
    for row in fake.truth():
        if row["provider"] == "anthropic" and "2026-05-11" <= row["date"] < "2026-05-18":
            want[(row["date"], row["project"])] += Decimal(row["billed_cost"]) * 100
    assert got == want


def test_anthropic_billed_at_a_discount(fake, an):
    # One day, one workspace: cost of uncached input per model vs usage x list price.
    day = [("starting_at", "2026-05-12T00:00:00Z"), ("ending_at", "2026-05-13T00:00:00Z")]
    usage = get_ok(
        an,
        AN_USAGE,
        [
            *day,
            ("group_by[]", "model"),
            ("group_by[]", "service_tier"),
            ("group_by[]", "context_window"),
        ],
    )["data"][0]["results"]
    costs = get_ok(an, AN_COSTS, [*day, ("group_by[]", "description")])["data"][0]["results"]
    prices = fake.prices()["list_prices"]["anthropic"]
    for c in costs:
        if c["token_type"] != "uncached_input_tokens" or c["service_tier"] != "standard":
            continue
        (u,) = [
            u
            for u in usage
            if (u["model"], u["service_tier"], u["context_window"])
            == (c["model"], c["service_tier"], c["context_window"])
        ]
        list_cents = Decimal(u["uncached_input_tokens"]) * Decimal(prices[c["model"]]["input"])
        list_cents = list_cents / 10**6 * 100
        assert Decimal(c["amount"]) == pytest.approx(
            list_cents * Decimal("0.94"), abs=Decimal("0.0001")
        )


def test_unknown_fields_and_minimal_field_sets_appear(oa, an):
    results = [
        r
        for b in get_ok(oa, OA_USAGE, [*WEEK, ("group_by", "model"), ("group_by", "project_id")])[
            "data"
        ]
        for r in b["results"]
    ]
    known = {
        "object",
        *OA_DIMS,
        "input_tokens",
        "output_tokens",
        "num_model_requests",
        "input_cached_tokens",
        "input_cache_write_tokens",
        "input_uncached_tokens",
        "input_text_tokens",
        "output_text_tokens",
        "input_cached_text_tokens",
        "input_audio_tokens",
        "input_cached_audio_tokens",
        "output_audio_tokens",
        "input_image_tokens",
        "input_cached_image_tokens",
        "output_image_tokens",
    }
    assert any(set(r) - known for r in results)
    assert any("input_uncached_tokens" not in r for r in results)  # older minimal shape
    assert any("input_uncached_tokens" in r for r in results)
    for r in results:
        if "input_uncached_tokens" in r:
            assert r["input_tokens"] == (
                r["input_cached_tokens"]
                + r["input_uncached_tokens"]
                + r["input_cache_write_tokens"]
            )
    an_results = [
        r
        for b in get_ok(an, AN_USAGE, [*AN_WEEK, ("group_by[]", "model")])["data"]
        for r in b["results"]
    ]
    assert any(
        set(r)
        - {
            "uncached_input_tokens",
            "cache_creation",
            "cache_read_input_tokens",
            "output_tokens",
            "server_tool_use",
            *AN_DIMS,
        }
        for r in an_results
    )


def _oa_model(line_item: str) -> str | None:
    model, sep, _ = line_item.partition(", ")
    return model if sep else None


def _api_truth(fake) -> list[dict]:
    """Rebuild the truth rows from the APIs' own responses."""
    rows: dict[tuple, dict] = {}

    def row(day, provider, model, project):
        key = (day, provider, model, project)
        return rows.setdefault(
            key,
            {
                "date": day,
                "provider": provider,
                "model": model,
                "project": project,
                "input_tokens": 0,
                "output_tokens": 0,
                "requests": 0,
                "billed_cost": Decimal(0),
            },
        )

    start = fake.org.start_ts
    with openai_client(fake) as oa, anthropic_client(fake) as an:
        for b in all_buckets(
            oa,
            OA_USAGE,
            [
                ("start_time", start),
                ("limit", 31),
                ("group_by", "project_id"),
                ("group_by", "model"),
            ],
        ):
            day = datetime.fromtimestamp(b["start_time"], UTC).date().isoformat()
            for r in b["results"]:
                x = row(day, "openai", r["model"], r["project_id"])
                x["input_tokens"] += r["input_tokens"]
                x["output_tokens"] += r["output_tokens"]
                x["requests"] += r["num_model_requests"]
        for b in all_buckets(
            oa,
            OA_COSTS,
            [
                ("start_time", start),
                ("limit", 180),
                ("group_by", "project_id"),
                ("group_by", "line_item"),
            ],
        ):
            day = datetime.fromtimestamp(b["start_time"], UTC).date().isoformat()
            for r in b["results"]:
                x = row(day, "openai", _oa_model(r["line_item"]), r["project_id"])
                x["billed_cost"] += Decimal(repr(r["amount"]["value"]))
        starting = datetime.fromtimestamp(start, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        for b in all_buckets(
            an,
            AN_USAGE,
            [
                ("starting_at", starting),
                ("limit", 31),
                ("group_by[]", "workspace_id"),
                ("group_by[]", "model"),
            ],
        ):
            for r in b["results"]:
                x = row(
                    b["starting_at"][:10], "anthropic", r["model"], r["workspace_id"] or "default"
                )
                x["input_tokens"] += (
                    r["uncached_input_tokens"]
                    + r["cache_read_input_tokens"]
                    + r["cache_creation"]["ephemeral_5m_input_tokens"]
                    + r["cache_creation"]["ephemeral_1h_input_tokens"]
                )
                x["output_tokens"] += r["output_tokens"]
        for b in all_buckets(
            an,
            AN_COSTS,
            [
                ("starting_at", starting),
                ("limit", 31),
                ("group_by[]", "workspace_id"),
                ("group_by[]", "description"),
            ],
        ):
            for r in b["results"]:
                x = row(
                    b["starting_at"][:10], "anthropic", r["model"], r["workspace_id"] or "default"
                )
                x["billed_cost"] += Decimal(r["amount"]) / 100
    return sorted(
        rows.values(), key=lambda r: (r["date"], r["provider"], r["model"] or "", r["project"])
    )


def _normalise(rows: list[dict]) -> list[dict]:
    return [{**r, "billed_cost": Decimal(r["billed_cost"])} for r in rows]


def test_truth_equals_the_sum_of_the_api_responses(fake):
    api = _api_truth(fake)
    # OpenAI and Anthropic rows (OpenRouter's are checked against its API in
    # tests/connectors/test_openrouter.py and end to end).
    org_truth = [r for r in fake.truth() if r["provider"] in ("openai", "anthropic")]
    want = _normalise(org_truth)
    assert len(api) == len(want)
    for a, w in zip(api, want, strict=True):
        assert a == w
    total = sum(Decimal(r["billed_cost"]) for r in org_truth)
    assert total == sum(r["billed_cost"] for r in api)


def test_truth_rows_shape_and_order(fake):
    rows = fake.truth()
    assert rows == truth(seed=SEED, days=120, end=END)
    keys = [(r["date"], r["provider"], r["model"] or "", r["project"] or "") for r in rows]
    assert keys == sorted(keys)
    assert set(rows[0]) == {
        "date",
        "provider",
        "model",
        "project",
        "input_tokens",
        "output_tokens",
        "requests",
        "billed_cost",
    }
    assert all(r["requests"] == 0 for r in rows if r["provider"] == "anthropic")
    assert any(r["model"] is None for r in rows)  # web search lines
    assert any(r["project"] == "default" for r in rows if r["provider"] == "anthropic")
    models = {r["model"] for r in rows if r["provider"] in ("openai", "anthropic")} - {None}
    assert models == {
        "gpt-5.5",
        "gpt-5.4",
        "gpt-5.4-mini",
        "gpt-5.4-nano",
        "claude-opus-4-7",
        "claude-sonnet-4-6",
        "claude-haiku-4-5",
    }


def test_get_truth_endpoint(fake):
    r = httpx.get(fake.url + "/_truth")
    assert r.status_code == 200
    assert r.json() == fake.truth()


def test_org_has_seasonality_migration_and_a_spike(fake):
    rows = fake.truth()
    daily = defaultdict(Decimal)
    opus = defaultdict(int)
    for r in rows:
        daily[r["date"]] += Decimal(r["billed_cost"])
        if r["model"] in ("gpt-5.5", "claude-opus-4-7"):
            opus[r["date"]] += r["input_tokens"]
    days = sorted(daily)[1:-1]  # drop the partial first and last day
    weekday = [daily[d] for d in days if datetime.fromisoformat(d).weekday() < 5]
    weekend = [daily[d] for d in days if datetime.fromisoformat(d).weekday() >= 5]
    assert sum(weekday) / len(weekday) > Decimal("1.3") * sum(weekend) / len(weekend)
    # frontier traffic share drops after the migration (mid-period)
    early = sum(opus[d] for d in days[20:40]) / sum(daily[d] for d in days[20:40])
    late = sum(opus[d] for d in days[80:100]) / sum(daily[d] for d in days[80:100])
    assert late < early
    spike = max(days, key=lambda d: daily[d])
    assert daily[spike] > Decimal("1.2") * sorted(daily[d] for d in days)[-2]


def test_determinism_same_seed_same_bytes():
    queries = [
        (
            "openai",
            OA_USAGE,
            [
                ("start_time", 1778457600),
                ("bucket_width", "1h"),
                ("group_by", "model"),
                ("group_by", "api_key_id"),
            ],
        ),
        ("openai", OA_COSTS, [("start_time", 1778457600), ("group_by", "line_item")]),
        (
            "anthropic",
            AN_USAGE,
            [
                ("starting_at", "2026-05-11T10:00:00Z"),
                ("bucket_width", "1m"),
                ("group_by[]", "workspace_id"),
            ],
        ),
        (
            "anthropic",
            AN_COSTS,
            [("starting_at", "2026-05-11T00:00:00Z"), ("group_by[]", "description")],
        ),
    ]
    bodies = []
    for seed in (SEED, SEED, SEED + 1):
        with FakeProviderServer(seed=seed, days=30, end=END) as f:
            with openai_client(f) as oa, anthropic_client(f) as an:
                out = []
                for provider, path, params in queries:
                    client = oa if provider == "openai" else an
                    r = client.get(path, params=params)
                    assert r.status_code == 200
                    out.append(r.content)
                out.append(httpx.get(f.url + "/_truth").content)
            bodies.append(out)
    assert bodies[0] == bodies[1]
    assert all(a != b for a, b in zip(bodies[0], bodies[2], strict=True))


def test_generation_is_fast():
    t = time.perf_counter()
    org = Organisation(seed=3, days=120, end=END)
    org.truth()
    assert time.perf_counter() - t < 5
    for provider in ("openai", "anthropic"):
        data = org.data(provider, False)
        assert 20 <= len(data.series) <= 60
        assert (data.hourly[:, :, 0] > 0).sum() < 200_000


# --- name lists ------------------------------------------------------------------------------


def test_openai_projects_keys_users(fake, oa):
    projects = get_ok(oa, "/organization/projects", {})
    assert projects["object"] == "list"
    assert all(p["status"] == "active" for p in projects["data"])
    every = get_ok(oa, "/organization/projects", {"include_archived": "true"})["data"]
    assert len(every) == len(projects["data"]) + 1
    first = get_ok(oa, "/organization/projects", {"limit": 2})
    assert first["has_more"] and len(first["data"]) == 2
    rest = get_ok(oa, "/organization/projects", {"after": first["last_id"]})
    assert [p["id"] for p in first["data"] + rest["data"]] == [p["id"] for p in projects["data"]]
    usage_keys = {s.api_key_id for s in fake.org.oa_series}
    listed = set()
    for p in every:
        keys = get_ok(oa, f"/organization/projects/{p['id']}/api_keys", {})
        for k in keys["data"]:
            assert k["object"] == "organization.project.api_key" and k["name"]
            assert k["id"].startswith("key_")
            listed.add(k["id"])
    assert usage_keys <= listed
    assert oa.get("/organization/projects/proj_nope/api_keys").status_code == 404
    users = get_ok(oa, "/organization/users", {})["data"]
    assert {s.user_id for s in fake.org.oa_series} - {None} <= {u["id"] for u in users}


def test_anthropic_workspaces_and_keys(fake, an):
    ws = get_ok(an, "/v1/organizations/workspaces", {})
    assert set(ws) == {"data", "first_id", "last_id", "has_more"}
    assert all(w["id"].startswith("wrkspc_") and w["type"] == "workspace" for w in ws["data"])
    keys = get_ok(an, "/v1/organizations/api_keys", {"limit": 3})
    assert keys["has_more"]
    more = get_ok(an, "/v1/organizations/api_keys", {"after_id": keys["last_id"]})
    every = keys["data"] + more["data"]
    assert {k["id"] for k in every} >= {s.api_key_id for s in fake.org.an_series} - {None}
    assert any(k["workspace_id"] is None for k in every)  # default-workspace keys
    assert all(k["id"].startswith("apikey_") for k in every)
