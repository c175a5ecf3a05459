"""AWS Bedrock connector: token usage and cost from CUR 2.0 export files in S3 (boto3).

An AWS Data Exports "Standard data export" of the CUR 2.0 table delivers, per billing period,
gzip CSV or Parquet files (hourly, daily or monthly line items) under::

    s3://<bucket>/<prefix>/<export-name>/data/BILLING_PERIOD=YYYY-MM/...
    s3://<bucket>/<prefix>/<export-name>/metadata/BILLING_PERIOD=YYYY-MM/<export-name>-Manifest.json

Each refresh rewrites the period ("overwrite") or adds a new set of files ("create new"); the
manifest lists the current set. We read the manifest's ``dataFiles`` when it has them, else
every data file of the period. A period is read once per sync (cached by the files' ETags) and
both endpoints are cut from it:

* ``bedrock.usage``: tokens per line item bucket (hour or day), by model, project (the usage
  account, or a cost allocation tag), IAM principal (``user_id``) and service tier;
* ``bedrock.cost``: ``line_item_unblended_cost`` per UTC day, by project, usage type
  (``line_item``), model, token type, service tier and line item type (``cost_type``).

Account settings (``ProviderAccount.settings``): ``bucket`` (required), ``export_name``
(required), ``prefix``, ``region`` (default ``us-east-1``), ``project_tag`` (a cost allocation
tag whose value becomes the project, e.g. ``team``). The key field holds the credential as JSON:
``{"access_key_id": "AKIA...", "secret_access_key": "..."}`` (optionally ``session_token``).
``base_url`` is the S3 endpoint (empty = AWS; set it for an S3-compatible server).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from spendapp.providers.errors import (
    MalformedResponse,
    ProviderAuthError,
    ProviderRequestError,
    ProviderUnavailable,
)
from spendapp.providers.records import CostRecord, NamedEntity, Page, UsageRecord

from .base import Connector, EndpointSpec, Secret
from .bedrock_cur import LineItem, line_items, read_rows
from .http import HttpClient
from .logfilter import register_secret, scrub

WINDOW = timedelta(days=31)
DATA_SUFFIXES = (".csv.gz", ".csv", ".parquet")
_AUTH_CODES = {
    "AccessDenied",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "ExpiredToken",
    "InvalidToken",
    "403",
}
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")


class CredentialError(ValueError):
    """The stored credential or settings are not usable; ``field`` names what to fix."""

    def __init__(self, message: str, field: str):
        super().__init__(message)
        self.field = field


def parse_credential(text: str) -> dict[str, str]:
    """The key field's JSON ``{"access_key_id", "secret_access_key"[, "session_token"]}``."""
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        raise CredentialError(
            'expected JSON: {"access_key_id": "AKIA...", "secret_access_key": "..."}', "api_key"
        ) from None
    if not isinstance(value, dict):
        raise CredentialError("expected a JSON object", "api_key")
    for name in ("access_key_id", "secret_access_key"):
        if not isinstance(value.get(name), str) or not value[name].strip():
            raise CredentialError(f"{name} is missing", "api_key")
    extra = set(value) - {"access_key_id", "secret_access_key", "session_token"}
    if extra:
        raise CredentialError(f"unknown field(s): {', '.join(sorted(extra))}", "api_key")
    return {k: str(v).strip() for k, v in value.items()}


def check_settings(settings: dict[str, Any]) -> dict[str, str]:
    """Validated settings, or CredentialError naming the setting."""
    if not isinstance(settings, dict):
        raise CredentialError("expected a JSON object", "settings")
    out = {
        "bucket": str(settings.get("bucket") or "").strip(),
        "prefix": str(settings.get("prefix") or "").strip().strip("/"),
        "export_name": str(settings.get("export_name") or "").strip(),
        "region": str(settings.get("region") or "us-east-1").strip(),
        "project_tag": str(settings.get("project_tag") or "").strip(),
    }
    if not out["bucket"]:
        raise CredentialError("bucket: the S3 bucket of the CUR 2.0 export is required", "settings")
    if not out["export_name"] or not _NAME.match(out["export_name"]):
        raise CredentialError("export_name: the Data Exports export name is required", "settings")
    unknown = set(settings) - set(out)
    if unknown:
        raise CredentialError(f"unknown setting(s): {', '.join(sorted(unknown))}", "settings")
    return out


def check_account(settings: dict[str, Any], key: str | None) -> None:
    """Admin-form validation: raises CredentialError (never echoing the key)."""
    check_settings(settings)
    if key:
        parse_credential(key)


class BedrockConnector(Connector):
    provider = "bedrock"
    probe_endpoint = "bedrock.usage"
    connected_message = "Connected to S3: the CUR 2.0 export can be listed and read."
    default_base_url = ""
    display_name = "AWS Bedrock"
    uses_settings: ClassVar[bool] = True
    check_account = staticmethod(check_account)  # the admin form's validation

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        client: HttpClient | None = None,
        settings: dict[str, Any] | None = None,
    ):
        if not api_key or not api_key.strip():
            raise ValueError("AWS Bedrock: an access key (JSON) is required")
        credential = parse_credential(api_key)
        self.settings = check_settings(settings or {})
        self.base_url = (base_url or "").strip().rstrip("/")
        if self.base_url and not self.base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        self._api_key = Secret(credential["secret_access_key"])
        register_secret(credential["secret_access_key"])
        self._credential = credential
        self._owns_client = False
        self.client = client
        self._s3: Any = None
        self._periods: dict[str, tuple[tuple[str, ...], list[LineItem]]] = {}

    def __repr__(self) -> str:
        return f"BedrockConnector(bucket={self.settings['bucket']!r})"

    # -- the Connector interface ------------------------------------------------------------

    def endpoints(self) -> list[EndpointSpec]:
        return [
            EndpointSpec("bedrock.usage", "usage", "1d", WINDOW),
            EndpointSpec("bedrock.cost", "cost", "1d", WINDOW),
        ]

    def _auth_headers(self) -> dict[str, str]:  # boto3 signs its own requests
        return {}

    def _window_params(self, spec, start, end) -> list[tuple[str, str]]:
        return []

    def _path(self, spec: EndpointSpec) -> str:
        return self._data_prefix("")

    def parse_page(self, spec: EndpointSpec, body: Any) -> Page:
        start, end, items = body
        if spec.kind == "usage":
            return Page(
                records=usage_records(spec.name, items, start, end), has_more=False, next_page=None
            )
        return Page(
            records=cost_records(spec.name, items, start, end), has_more=False, next_page=None
        )

    def _fetch_pages(self, spec: EndpointSpec, start: datetime, end: datetime) -> Iterator[Page]:
        with self._scrubbed_errors():
            items = [
                item
                for period in billing_periods(start, end)
                for item in self._period_items(period)
                if start <= item.start < end
            ]
            yield self.parse_page(spec, (start, end, items))

    def _names(self) -> list[NamedEntity]:
        return []

    def _test_connection(self) -> str:
        periods = self._list_periods()
        if not periods:
            raise ProviderRequestError(
                f"no billing periods under s3://{self.settings['bucket']}/"
                f"{self._data_prefix('')}: check bucket, prefix and export_name"
            )
        self._period_items(periods[-1])
        return f"{self.connected_message} Latest billing period: {periods[-1]}."

    # -- S3 -----------------------------------------------------------------------------------

    def _client(self) -> Any:
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            self._s3 = boto3.client(
                "s3",
                region_name=self.settings["region"],
                endpoint_url=self.base_url or None,
                aws_access_key_id=self._credential["access_key_id"],
                aws_secret_access_key=self._credential["secret_access_key"],
                aws_session_token=self._credential.get("session_token") or None,
                config=Config(
                    retries={"max_attempts": 6, "mode": "standard"},
                    connect_timeout=10,
                    read_timeout=60,
                    s3={"addressing_style": "path"} if self.base_url else {},
                ),
            )
        return self._s3

    def _data_prefix(self, period: str) -> str:
        parts = [self.settings["prefix"], self.settings["export_name"], "data"]
        base = "/".join(p for p in parts if p) + "/"
        return base + (f"BILLING_PERIOD={period}/" if period else "")

    def _manifest_key(self, period: str) -> str:
        name = self.settings["export_name"]
        parts = [self.settings["prefix"], name, "metadata", f"BILLING_PERIOD={period}"]
        return "/".join(p for p in parts if p) + f"/{name}-Manifest.json"

    def _call(self, what: str, fn, **kw) -> Any:
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return fn(**kw)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            code = str(error.get("Code", ""))
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            message = scrub(f"{what}: {code or status} {error.get('Message', '')}".strip())
            if code in _AUTH_CODES or status in (401, 403):
                raise ProviderAuthError(message) from None
            if code in ("NoSuchKey", "404"):
                raise FileNotFoundError(what) from None
            if status and status < 500 and status != 429:
                raise ProviderRequestError(message) from None
            raise ProviderUnavailable(message) from None
        except BotoCoreError as exc:
            raise ProviderUnavailable(scrub(f"{what}: {exc}")) from None

    def _list_periods(self) -> list[str]:
        keys = self._list(self._data_prefix(""))
        found = {m.group(1) for k in keys if (m := re.search(r"BILLING_PERIOD=(\d{4}-\d{2})/", k))}
        return sorted(found)

    def _list(self, prefix: str) -> dict[str, str]:
        """Key -> ETag of every object under ``prefix``."""
        out: dict[str, str] = {}
        token = None
        while True:
            kw = {"Bucket": self.settings["bucket"], "Prefix": prefix}
            if token:
                kw["ContinuationToken"] = token
            page = self._call(
                f"list s3://{self.settings['bucket']}/{prefix}",
                self._client().list_objects_v2,
                **kw,
            )
            for obj in page.get("Contents", []):
                out[obj["Key"]] = obj.get("ETag", "")
            if not page.get("IsTruncated"):
                return out
            token = page.get("NextContinuationToken")
            if not token:
                raise MalformedResponse(
                    "truncated listing without a continuation token", field=prefix
                )

    def _read(self, key: str) -> bytes:
        body = self._call(
            f"read s3://{self.settings['bucket']}/{key}",
            self._client().get_object,
            Bucket=self.settings["bucket"],
            Key=key,
        )
        try:
            return body["Body"].read()
        except Exception as exc:  # the connection broke half-way through the body
            raise ProviderUnavailable(f"read {key}: {type(exc).__name__}") from None

    def _period_files(self, period: str) -> dict[str, str]:
        listed = {
            k: etag
            for k, etag in self._list(self._data_prefix(period)).items()
            if k.endswith(DATA_SUFFIXES)
        }
        try:
            manifest = json.loads(self._read(self._manifest_key(period)))
        except FileNotFoundError:
            return listed
        except ValueError:
            raise MalformedResponse("not JSON", field=self._manifest_key(period)) from None
        files = manifest.get("dataFiles") if isinstance(manifest, dict) else None
        if not isinstance(files, list) or not files:
            return listed
        bucket_prefix = f"s3://{self.settings['bucket']}/"
        keys = [f[len(bucket_prefix) :] if f.startswith(bucket_prefix) else f for f in files]
        missing = [k for k in keys if k not in listed]
        if missing:
            # A refresh is being delivered: the manifest comes last, so retry later.
            raise ProviderUnavailable(f"manifest lists {missing[0]}, which is not there (yet)")
        return {k: listed[k] for k in keys}

    def _period_items(self, period: str) -> list[LineItem]:
        files = self._period_files(period)
        version = tuple(sorted(f"{k}:{e}" for k, e in files.items()))
        cached = self._periods.get(period)
        if cached and cached[0] == version:
            return cached[1]
        items: list[LineItem] = []
        for key in sorted(files):
            try:
                data = self._read(key)
            except FileNotFoundError:
                # Replaced by a refresh between the listing and the read: the next sync reads
                # the new set.
                raise ProviderUnavailable(f"{key} went away while being read") from None
            rows = read_rows(key, data)
            items.extend(line_items(rows, key, self.settings["project_tag"]))
        self._periods[period] = (version, items)
        return items

    def close(self) -> None:
        self._s3 = None


def billing_periods(start: datetime, end: datetime) -> list[str]:
    """``YYYY-MM`` of every month that ``[start, end)`` touches."""
    out = []
    month = date(start.year, start.month, 1)
    last = (end - timedelta(microseconds=1)).date()
    while month <= last:
        out.append(f"{month:%Y-%m}")
        month = date(month.year + month.month // 12, month.month % 12 + 1, 1)
    return out


def _day(moment: datetime) -> datetime:
    return datetime(moment.year, moment.month, moment.day, tzinfo=UTC)


def usage_records(endpoint: str, items, start, end) -> list[UsageRecord]:
    """Tokens summed per bucket and dimension (a CUR file may split a bucket's line items)."""
    sums: dict[tuple, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for item in items:
        if not item.token_type or not item.tokens:
            continue
        key = (item.start, item.end, item.model, item.project_id, item.principal, item.service_tier)
        sums[key][item.token_type] += item.tokens
    return [
        UsageRecord(
            endpoint=endpoint,
            bucket_start=b_start,
            bucket_end=b_end,
            model=model,
            project_id=project,
            user_id=principal,
            service_tier=tier,
            input_uncached_tokens=t["input"],
            input_cached_tokens=t["cached_input"],
            cache_write_tokens=t["cache_write"],
            output_tokens=t["output"],
        )
        for (b_start, b_end, model, project, principal, tier), t in sorted(sums.items())
    ]


def cost_records(endpoint: str, items, start, end) -> list[CostRecord]:
    """Unblended cost per UTC day and line (hourly line items of a day are one line)."""
    sums: dict[tuple, list] = {}
    for item in items:
        day = _day(item.start)
        key = (
            day,
            item.currency,
            item.project_id,
            item.usage_type,
            item.model,
            item.token_type,
            item.service_tier,
            item.line_item_type.lower(),
        )
        row = sums.setdefault(key, [Decimal(0), 0])
        row[0] += item.cost
        row[1] += item.tokens
    return [
        CostRecord(
            endpoint=endpoint,
            bucket_start=day,
            bucket_end=day + timedelta(days=1),
            amount=amount,
            currency=currency,
            project_id=project,
            line_item=usage_type,
            model=model,
            token_type=token_type,
            service_tier=tier,
            cost_type=line_type,
            quantity=Decimal(tokens) if token_type else None,
            quantity_unit="tokens" if token_type else "",
        )
        for (day, currency, project, usage_type, model, token_type, tier, line_type), (
            amount,
            tokens,
        ) in sorted(sums.items())
    ]
