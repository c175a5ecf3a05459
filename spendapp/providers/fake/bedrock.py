"""The fake organisation's AWS Bedrock spend, as CUR 2.0 export files in an S3-compatible server.

``BedrockOrg`` generates hourly token usage for a small cast (two AWS accounts, three models,
IAM principals, a flex-tier series, a ``team`` cost allocation tag) from ``(seed, days, end)``,
and renders it as CUR 2.0 line items (one per hour or per day, series and token type), priced
exactly (costs are integers of 1e-9 dollars, written as decimals). ``publish`` writes them as
gzip CSV or Parquet files plus a manifest per billing period, the way AWS Data Exports lays
them out. ``S3Server`` runs moto's S3 server (``moto[server]``, a real HTTP server) on loopback
as a subprocess.

The truth rows have the shape of the other providers' (``manage.py spend --json --by
provider,model,project``): project is the AWS usage account id.
"""

from __future__ import annotations

import atexit
import csv
import gzip
import io
import json
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np

from .org import DAY, HOUR, parse_end, price_milli

BUCKET = "spendapp-demo-cur"
PREFIX = "cur2"
EXPORT_NAME = "spendapp-demo"
ACCESS_KEY = {"access_key_id": "AKIAFAKEDEMO00000001", "secret_access_key": "fake/demo/secret/key"}

# model id, usage-type stem, $/Mtok for input, output, cache read, cache write (list prices).
MODELS = {
    "anthropic.claude-sonnet-4-5-20250929-v1:0": ("ClaudeSonnet4.5", "3", "15", "0.3", "3.75"),
    "amazon.nova-pro-v1:0": ("NovaPro", "0.8", "3.2", "0.2", "0"),
    "meta.llama3-3-70b-instruct-v1:0": ("Llama3.3-70B", "0.72", "0.72", "0", "0"),
}
TOKEN_SUFFIX = {
    "input": "input-tokens",
    "output": "output-tokens",
    "cache_read": "cache-read-input-token-count",
    "cache_write": "cache-write-input-token-count",
}
TIER_PCT = {"": 100, "flex": 50}
COLUMNS = (
    "identity_line_item_id",
    "identity_time_interval",
    "bill_billing_period_start_date",
    "line_item_usage_account_id",
    "line_item_line_item_type",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_product_code",
    "line_item_usage_type",
    "line_item_operation",
    "line_item_resource_id",
    "line_item_usage_amount",
    "pricing_unit",
    "line_item_currency_code",
    "line_item_unblended_rate",
    "line_item_unblended_cost",
    "line_item_iam_principal",
    "product_region_code",
    "product",
    "resource_tags",
)


@dataclass
class CurSeries:
    account: str
    model: str
    principal: str
    team: str
    tier: str = ""
    req_per_hour: float = 20.0
    in_per_req: float = 2500.0
    out_per_req: float = 400.0
    cache_frac: float = 0.0


CAST = (
    CurSeries(
        "111122223333",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:iam::111122223333:role/support-bot",
        "support",
        cache_frac=0.35,
    ),
    CurSeries(
        "111122223333",
        "amazon.nova-pro-v1:0",
        "arn:aws:iam::111122223333:user/alice",
        "search",
        req_per_hour=40,
    ),
    CurSeries(
        "111122223333",
        "amazon.nova-pro-v1:0",
        "arn:aws:iam::111122223333:role/nightly-batch",
        "search",
        tier="flex",
        req_per_hour=60,
        out_per_req=900,
    ),
    CurSeries(
        "444455556666",
        "meta.llama3-3-70b-instruct-v1:0",
        "arn:aws:iam::444455556666:role/labs",
        "labs",
        req_per_hour=8,
    ),
    CurSeries(
        "444455556666",
        "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "arn:aws:iam::444455556666:user/bob",
        "labs",
        req_per_hour=5,
        cache_frac=0.2,
    ),
)


@dataclass
class BedrockOrg:
    seed: int = 1
    days: int = 120
    end: object = None
    granularity: str = "hourly"  # or "daily"
    file_format: str = "csv"  # or "parquet"
    end_ts: int = field(init=False)

    def __post_init__(self) -> None:
        if self.granularity not in ("hourly", "daily"):
            raise ValueError("granularity must be hourly or daily")
        if self.file_format not in ("csv", "parquet"):
            raise ValueError("file_format must be csv or parquet")
        self.end_ts = parse_end(self.end)
        self.start_ts = self.end_ts - self.days * DAY
        self.hourly = self._generate()

    def _generate(self) -> np.ndarray:
        """Tokens (series, hours, [input, output, cache_read, cache_write])."""
        hours = self.days * 24
        t = self.start_ts + HOUR * np.arange(hours)
        hod, wd = (t // HOUR) % 24, (t // DAY + 3) % 7
        shape = 0.3 + np.sin(np.pi * np.clip(hod - 6, 0, 14) / 14) * np.where(wd >= 5, 0.4, 1.0)
        rng = np.random.default_rng([self.seed, 3])
        out = np.zeros((len(CAST), hours, 4), dtype=np.int64)
        for i, s in enumerate(CAST):
            req = rng.poisson(s.req_per_hour * shape * rng.lognormal(0, 0.2, hours))
            total_in = np.round(req * s.in_per_req * rng.lognormal(0, 0.1, hours))
            cached = np.round(total_in * s.cache_frac)
            write = np.round(total_in * s.cache_frac * 0.1)
            out[i, :, 0] = total_in - cached - write
            out[i, :, 1] = np.round(req * s.out_per_req * rng.lognormal(0, 0.1, hours))
            out[i, :, 2] = cached
            out[i, :, 3] = write
        return out

    # --- line items ---------------------------------------------------------------------------

    def _buckets(self) -> list[tuple[int, int, slice]]:
        step = HOUR if self.granularity == "hourly" else DAY
        first = self.start_ts - self.start_ts % step
        out = []
        for b in range(first, self.end_ts, step):
            lo = max(0, (b - self.start_ts) // HOUR)
            hi = min(self.days * 24, (b + step - self.start_ts) // HOUR)
            if hi > lo:
                out.append((b, b + step, slice(lo, hi)))
        return out

    def line_items(self) -> list[dict]:
        """Every line item, as CUR 2.0 columns (costs as exact decimals)."""
        rows = []
        kinds = ("input", "output", "cache_read", "cache_write")
        for b_start, b_end, hours in self._buckets():
            for i, s in enumerate(CAST):
                stem, *prices = MODELS[s.model]
                tokens = self.hourly[i, hours, :].sum(axis=0)
                for k, kind in enumerate(kinds):
                    count = int(tokens[k])
                    if not count:
                        continue
                    unit = price_milli(prices[k]) * TIER_PCT[s.tier] // 100
                    tier = f"-{s.tier}" if s.tier else ""
                    rows.append(_row(s, stem, tier, kind, b_start, b_end, count, unit))
        return rows

    def truth(self) -> list[dict]:
        rows: dict[tuple, dict] = {}
        for item in self.line_items():
            start = datetime.fromisoformat(item["line_item_usage_start_date"].replace("Z", ""))
            key = (start.date().isoformat(), _model_of(item), item["line_item_usage_account_id"])
            row = rows.setdefault(
                key,
                {
                    "date": key[0],
                    "provider": "bedrock",
                    "model": key[1],
                    "project": key[2],
                    "input_tokens": 0,
                    "output_tokens": 0,
                    "requests": 0,
                    "billed_cost": Decimal(0),
                },
            )
            tokens = int(item["line_item_usage_amount"])
            if item["line_item_usage_type"].endswith("output-tokens"):
                row["output_tokens"] += tokens
            else:
                row["input_tokens"] += tokens
            row["billed_cost"] += Decimal(item["line_item_unblended_cost"])
        return [
            {**r, "billed_cost": format(r["billed_cost"], "f")} for _, r in sorted(rows.items())
        ]

    # --- files --------------------------------------------------------------------------------

    def files(
        self, bucket: str = BUCKET, prefix: str = PREFIX, export: str = EXPORT_NAME
    ) -> dict[str, bytes]:
        """S3 key -> content: data files and a manifest per billing period."""
        by_period: dict[str, list[dict]] = {}
        for row in self.line_items():
            by_period.setdefault(row["line_item_usage_start_date"][:7], []).append(row)
        out: dict[str, bytes] = {}
        base = f"{prefix}/{export}" if prefix else export
        for period, rows in sorted(by_period.items()):
            ext = "csv.gz" if self.file_format == "csv" else "snappy.parquet"
            key = f"{base}/data/BILLING_PERIOD={period}/{export}-00001.{ext}"
            out[key] = _csv_gz(rows) if self.file_format == "csv" else _parquet(rows)
            manifest = {
                "exportName": export,
                "billingPeriod": {"start": f"{period}-01T00:00:00Z"},
                "dataFiles": [f"s3://{bucket}/{key}"],
                "columns": [{"name": c} for c in COLUMNS],
            }
            meta = f"{base}/metadata/BILLING_PERIOD={period}/{export}-Manifest.json"
            out[meta] = json.dumps(manifest, indent=1).encode()
        return out

    def publish(self, endpoint_url: str, bucket: str = BUCKET) -> int:
        """Write every file to the S3 server at ``endpoint_url``; returns the file count."""
        import boto3

        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint_url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY["access_key_id"],
            aws_secret_access_key=ACCESS_KEY["secret_access_key"],
        )
        existing = {b["Name"] for b in s3.list_buckets().get("Buckets", [])}
        if bucket not in existing:
            s3.create_bucket(Bucket=bucket)
        files = self.files(bucket)
        for key, data in files.items():
            s3.put_object(Bucket=bucket, Key=key, Body=data)
        return len(files)


def _model_of(item: dict) -> str:
    return item["line_item_resource_id"].split("foundation-model/", 1)[1]


def _iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _row(s: CurSeries, stem, tier, kind, b_start, b_end, count, unit_milli) -> dict:
    cost = Decimal(count * unit_milli).scaleb(-9)  # tokens x $/Mtok/1000 -> 1e-9 dollars
    period = datetime.fromtimestamp(b_start, UTC).strftime("%Y-%m-01T00:00:00Z")
    return {
        "identity_line_item_id": f"{b_start}-{s.principal[-12:]}-{kind}{tier}",
        "identity_time_interval": f"{_iso(b_start)}/{_iso(b_end)}",
        "bill_billing_period_start_date": period,
        "line_item_usage_account_id": s.account,
        "line_item_line_item_type": "Usage",
        "line_item_usage_start_date": _iso(b_start),
        "line_item_usage_end_date": _iso(b_end),
        "line_item_product_code": "AmazonBedrock",
        "line_item_usage_type": f"USE1-{stem}{tier}-{TOKEN_SUFFIX[kind]}",
        "line_item_operation": "InvokeModelInference",
        "line_item_resource_id": f"arn:aws:bedrock:us-east-1::foundation-model/{s.model}",
        "line_item_usage_amount": str(count),
        "pricing_unit": "tokens",
        "line_item_currency_code": "USD",
        "line_item_unblended_rate": format(Decimal(unit_milli).scaleb(-9), "f"),
        "line_item_unblended_cost": format(cost, "f"),
        "line_item_iam_principal": s.principal,
        "product_region_code": "us-east-1",
        "product": json.dumps({"product_name": "Amazon Bedrock", "region": "us-east-1"}),
        "resource_tags": json.dumps({"user:team": s.team}),
    }


def _csv_gz(rows: list[dict]) -> bytes:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return gzip.compress(text.getvalue().encode(), mtime=0)


def _parquet(rows: list[dict]) -> bytes:
    """Parquet as AWS writes it: timestamps, doubles, and map columns."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    def ts(name):
        return [datetime.fromisoformat(r[name].replace("Z", "+00:00")) for r in rows]

    def col(name):
        return [r[name] for r in rows]

    def mapped(name):
        return [list(json.loads(r[name]).items()) for r in rows]

    table = pa.table(
        {
            **{c: col(c) for c in COLUMNS if c not in _TYPED},
            "bill_billing_period_start_date": pa.array(
                ts("bill_billing_period_start_date"), pa.timestamp("ms")
            ),
            "line_item_usage_start_date": pa.array(
                ts("line_item_usage_start_date"), pa.timestamp("ms")
            ),
            "line_item_usage_end_date": pa.array(
                ts("line_item_usage_end_date"), pa.timestamp("ms")
            ),
            "line_item_usage_amount": pa.array([float(r["line_item_usage_amount"]) for r in rows]),
            "line_item_unblended_cost": pa.array(
                [float(r["line_item_unblended_cost"]) for r in rows]
            ),
            "product": pa.array(mapped("product"), pa.map_(pa.string(), pa.string())),
            "resource_tags": pa.array(mapped("resource_tags"), pa.map_(pa.string(), pa.string())),
        }
    )
    sink = io.BytesIO()
    pq.write_table(table, sink, compression="snappy")
    return sink.getvalue()


_TYPED = {
    "bill_billing_period_start_date",
    "line_item_usage_start_date",
    "line_item_usage_end_date",
    "line_item_usage_amount",
    "line_item_unblended_cost",
    "product",
    "resource_tags",
}


class S3Server:
    """moto's S3-compatible server as a subprocess on loopback (``moto[server]``)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0):
        self.host = host
        self.port = port or _free_port(host)
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> S3Server:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", self.host, "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        )
        atexit.register(self.stop)  # never leave the child behind
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("moto S3 server exited at start (is moto[server] installed?)")
            with socket.socket() as sock:
                if sock.connect_ex((self.host, self.port)) == 0:
                    return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"moto S3 server did not listen on {self.url} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    def __enter__(self) -> S3Server:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _free_port(host: str) -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]
