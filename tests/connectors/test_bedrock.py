"""AWS Bedrock: CUR 2.0 line items parsed from our documented example (CSV and the same rows as
Parquet), and the connector reading export files from a real S3 server (moto, a subprocess on
loopback) with boto3: hourly CSV, daily Parquet, the manifest, errors that name the file."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from spendapp.providers.connectors import BedrockConnector, get_connector
from spendapp.providers.connectors.bedrock import (
    CredentialError,
    billing_periods,
    check_account,
    cost_records,
    parse_credential,
    usage_records,
)
from spendapp.providers.connectors.bedrock_cur import (
    line_items,
    read_rows,
    token_type_of,
    tokens_of,
)
from spendapp.providers.errors import MalformedResponse, ProviderAuthError, ProviderUnavailable
from spendapp.providers.fake import FakeProviderServer
from spendapp.providers.fake.bedrock import (
    ACCESS_KEY,
    BUCKET,
    EXPORT_NAME,
    PREFIX,
    BedrockOrg,
    S3Server,
)
from tests.connectors.conftest import EXAMPLES

EXAMPLE = EXAMPLES / "bedrock" / "cur2_bedrock_example.csv"
SETTINGS = {"bucket": BUCKET, "prefix": PREFIX, "export_name": EXPORT_NAME}
END = datetime(2026, 11, 3, 7, tzinfo=UTC)
KEY = json.dumps(ACCESS_KEY)


def _example_items():
    data = EXAMPLE.read_bytes()
    return list(line_items(read_rows("example.csv", data), "example.csv", "team"))


def test_the_example_reads_tokens_by_type_and_skips_other_services():
    items = _example_items()
    assert len(items) == 8  # the EC2 line is not Bedrock
    by_id = {(i.usage_type, i.line_item_type): i for i in items}
    sonnet_in = by_id[("USE1-Claude4.6Sonnet-input-tokens", "Usage")]
    assert (sonnet_in.model, sonnet_in.token_type, sonnet_in.tokens) == (
        "anthropic.claude-sonnet-4-6",
        "input",
        120000,
    )
    assert sonnet_in.project_id == "search"  # the cost allocation tag user:team
    assert sonnet_in.principal == "arn:aws:iam::123456789012:user/alice"
    assert sonnet_in.cost == Decimal("0.36") and sonnet_in.currency == "USD"
    assert by_id[("USE1-Claude4.6Sonnet-cache-read-input-token-count", "Usage")].token_type == (
        "cached_input"
    )
    assert by_id[("USE1-Claude4.6Sonnet-cache-write-input-token-count", "Usage")].tokens == 10000
    nova = by_id[("USE1-NovaLite-flex-input-tokens", "Usage")]
    assert (nova.model, nova.service_tier, nova.tokens) == ("NovaLite", "flex", 2500)
    assert nova.project_id == "123456789012"  # no tag: the usage account
    mantle = by_id[("USE1-OpenAIGptOss120b-mantle-output-tokens-standard", "Usage")]
    assert (mantle.model, mantle.token_type, mantle.tokens) == ("OpenAIGptOss120b", "output", 4000)
    credit = by_id[("USE1-Claude4.6Sonnet-input-tokens", "Credit")]
    assert (credit.token_type, credit.tokens, credit.cost) == ("", 0, Decimal("-0.1"))
    tax = by_id[("", "Tax")]
    assert (tax.model, tax.tokens, tax.cost) == ("", 0, Decimal("0.05"))


def test_usage_sums_tokens_per_bucket_and_cost_keeps_every_dollar_per_day():
    items = _example_items()
    start, end = datetime(2026, 11, 1, tzinfo=UTC), datetime(2026, 12, 1, tzinfo=UTC)
    usage = usage_records("bedrock.usage", items, start, end)
    sonnet = next(r for r in usage if r.model == "anthropic.claude-sonnet-4-6")
    assert (
        sonnet.input_uncached_tokens,
        sonnet.input_cached_tokens,
        sonnet.cache_write_tokens,
        sonnet.output_tokens,
    ) == (120000, 50000, 10000, 8000)
    assert sonnet.bucket_end - sonnet.bucket_start == timedelta(hours=1)
    costs = cost_records("bedrock.cost", items, start, end)
    assert sum(c.amount for c in costs) == Decimal("0.36") + Decimal("0.12") + Decimal(
        "0.015"
    ) + Decimal("0.0375") + Decimal("0.000075") + Decimal("0.0024") + Decimal("0.05") - Decimal(
        "0.1"
    )
    assert {c.cost_type for c in costs} == {"usage", "tax", "credit"}
    assert all(c.bucket_end - c.bucket_start == timedelta(days=1) for c in costs)
    # Every record has its own natural key.
    assert len({(c.bucket_start, c.dimensions()) for c in costs}) == len(costs)
    assert len({(u.bucket_start, u.dimensions()) for u in usage}) == len(usage)


def test_the_same_rows_as_parquet_parse_to_the_same_line_items():
    import csv

    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = list(csv.DictReader(io.StringIO(EXAMPLE.read_text())))
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    for name in ("line_item_usage_amount", "line_item_unblended_cost"):
        columns[name] = pa.array([float(v) for v in columns[name]])
    for name in ("line_item_usage_start_date", "line_item_usage_end_date"):
        columns[name] = pa.array(
            [datetime.fromisoformat(v.replace("Z", "+00:00")) for v in columns[name]],
            pa.timestamp("ms", tz="UTC"),
        )
    for name in ("product", "resource_tags"):
        columns[name] = pa.array(
            [list(json.loads(v).items()) if v else None for v in columns[name]],
            pa.map_(pa.string(), pa.string()),
        )
    sink = io.BytesIO()
    pq.write_table(pa.table(columns), sink)
    parquet = list(line_items(read_rows("x.parquet", sink.getvalue()), "x.parquet", "team"))
    assert parquet == _example_items()


@pytest.mark.parametrize(
    ("usage_type", "kind"),
    [
        ("USE1-Claude4.6Sonnet-input-tokens", "input"),
        ("EUC1-Claude4.6Sonnet-output-tokens", "output"),
        ("USE1-Claude4.6Sonnet-cache-read-input-token-count", "cached_input"),
        ("USE1-Claude4.6Sonnet-cache-write-input-token-count", "cache_write"),
        ("USE1-Mistral-mantle-input-tokens-standard", "input"),
        ("USE1-ProvisionedThroughput-ModelUnits", ""),
    ],
)
def test_token_types_follow_the_documented_usage_type_patterns(usage_type, kind):
    assert token_type_of(usage_type)[0] == kind


def test_usage_amounts_in_thousands_of_tokens_become_whole_tokens():
    assert tokens_of(Decimal("2.5"), "1K tokens", "x") == 2500
    assert tokens_of(Decimal("0.0012"), "1M tokens", "x") == 1200
    assert tokens_of(Decimal("17"), "", "x") == 17
    with pytest.raises(MalformedResponse, match="whole token"):
        tokens_of(Decimal("1.5"), "tokens", "example.csv row 3.pricing_unit")


def test_a_file_without_a_required_column_or_with_a_bad_number_names_it():
    text = EXAMPLE.read_text()
    header, *lines = text.splitlines()
    no_cost = header.replace("line_item_unblended_cost", "line_item_cost")
    with pytest.raises(MalformedResponse, match="line_item_unblended_cost"):
        list(line_items(read_rows("f.csv", "\n".join([no_cost, *lines]).encode()), "f.csv"))
    bad = text.replace(",0.36,", ",zero point three,")
    with pytest.raises(MalformedResponse, match=r"f.csv row 2.line_item_unblended_cost"):
        list(line_items(read_rows("f.csv", bad.encode()), "f.csv"))
    with pytest.raises(MalformedResponse, match="gzip"):
        list(read_rows("f.csv.gz", b"not gzip"))


def test_the_credential_is_json_with_both_parts_and_settings_are_checked():
    assert parse_credential(KEY)["access_key_id"] == ACCESS_KEY["access_key_id"]
    for bad, message in [
        ("AKIA...:secret", "expected JSON"),
        ('{"access_key_id": "AKIA1"}', "secret_access_key is missing"),
        ('{"access_key_id": "a", "secret_access_key": "b", "role": "x"}', "unknown field"),
    ]:
        with pytest.raises(CredentialError, match=message) as info:
            parse_credential(bad)
        assert info.value.field == "api_key"
    with pytest.raises(CredentialError, match="bucket"):
        check_account({"export_name": "x"}, None)
    with pytest.raises(CredentialError, match="export_name"):
        check_account({"bucket": "b"}, None)
    with pytest.raises(CredentialError, match="unknown setting"):
        check_account({**SETTINGS, "bukket": "b"}, None)


def test_billing_periods_of_a_window():
    start = datetime(2026, 10, 20, tzinfo=UTC)
    assert billing_periods(start, start + timedelta(days=31)) == ["2026-10", "2026-11"]
    assert billing_periods(start, datetime(2026, 11, 1, tzinfo=UTC)) == ["2026-10"]


# --- against a real S3 server --------------------------------------------------------------


@pytest.fixture(scope="module")
def s3():
    with S3Server() as server:
        yield server


def _read_all(connector, endpoint: str, start: datetime, end: datetime) -> list:
    return [r for p in connector.fetch_pages(endpoint, start, end) for r in p.records]


@pytest.mark.parametrize(("file_format", "granularity"), [("csv", "hourly"), ("parquet", "daily")])
def test_the_connector_reads_an_export_from_s3_equal_to_the_truth(s3, file_format, granularity):
    org = BedrockOrg(seed=4, days=9, end=END, granularity=granularity, file_format=file_format)
    bucket = f"cur-{file_format}"
    org.publish(s3.url, bucket=bucket)
    # The manifest lists the data files of its bucket: publish() writes them for BUCKET.
    connector = get_connector("bedrock", s3.url, KEY, settings={**SETTINGS, "bucket": bucket})
    assert "2026-11" in connector.test_connection()
    start, end = datetime(2026, 10, 25, tzinfo=UTC), datetime(2026, 11, 4, tzinfo=UTC)
    costs = _read_all(connector, "bedrock.cost", start, end)
    usage = _read_all(connector, "bedrock.usage", start, end)
    truth = org.truth()
    assert sum(c.amount for c in costs) == sum(Decimal(r["billed_cost"]) for r in truth)
    assert sum(u.input_tokens for u in usage) == sum(r["input_tokens"] for r in truth)
    assert sum(u.output_tokens for u in usage) == sum(r["output_tokens"] for r in truth)
    width = {u.bucket_end - u.bucket_start for u in usage}
    assert width == {timedelta(hours=1) if granularity == "hourly" else timedelta(days=1)}
    assert {u.user_id for u in usage} >= {"arn:aws:iam::111122223333:user/alice"}


def test_a_manifest_naming_a_file_not_there_yet_fails_the_window_to_retry_later(s3):
    import boto3

    org = BedrockOrg(seed=4, days=3, end=END)
    org.publish(s3.url, bucket="cur-partial")
    client = boto3.client(
        "s3",
        endpoint_url=s3.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    key = f"{PREFIX}/{EXPORT_NAME}/metadata/BILLING_PERIOD=2026-11/{EXPORT_NAME}-Manifest.json"
    manifest = json.loads(client.get_object(Bucket="cur-partial", Key=key)["Body"].read())
    manifest["dataFiles"] = [f"s3://cur-partial/{PREFIX}/{EXPORT_NAME}/data/x-00002.csv.gz"]
    client.put_object(Bucket="cur-partial", Key=key, Body=json.dumps(manifest).encode())
    connector = BedrockConnector(s3.url, KEY, settings={**SETTINGS, "bucket": "cur-partial"})
    with pytest.raises(ProviderUnavailable, match="not there"):
        _read_all(connector, "bedrock.usage", datetime(2026, 11, 1, tzinfo=UTC), END)


def test_a_corrupt_data_file_is_malformed_and_names_the_file(s3):
    import boto3

    BedrockOrg(seed=4, days=3, end=END).publish(s3.url, bucket="cur-corrupt")
    client = boto3.client(
        "s3",
        endpoint_url=s3.url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="y",
    )
    key = f"{PREFIX}/{EXPORT_NAME}/data/BILLING_PERIOD=2026-11/{EXPORT_NAME}-00001.csv.gz"
    client.put_object(Bucket="cur-corrupt", Key=key, Body=gzip.compress(b"a,b\n1,2\n")[:-6])
    connector = BedrockConnector(s3.url, KEY, settings={**SETTINGS, "bucket": "cur-corrupt"})
    with pytest.raises(MalformedResponse, match=r"00001\.csv\.gz"):
        _read_all(connector, "bedrock.cost", datetime(2026, 11, 1, tzinfo=UTC), END)


def test_a_revoked_key_is_an_auth_error_and_the_secret_never_shows():
    with FakeProviderServer(seed=4, days=3, end=END, clouds=True, faults="revoke@bedrock") as fake:
        connector = BedrockConnector(fake.s3_url, KEY, settings=SETTINGS)
        with pytest.raises(ProviderAuthError) as info:
            connector.test_connection()
    assert "InvalidAccessKeyId" in str(info.value)
    assert ACCESS_KEY["secret_access_key"] not in str(info.value)
    assert ACCESS_KEY["secret_access_key"] not in repr(connector)
