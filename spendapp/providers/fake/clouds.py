"""The fake server's cloud routes: Azure (Entra ID + Cost Management) and the S3 proxy.

``/azure/...`` is answered in process (``fake/azure.py``). ``/aws-s3/...`` is passed through to
moto's S3 server (a subprocess holding the Bedrock CUR files, ``fake/bedrock.py``), so the S3
traffic of a Bedrock sync goes through the same fault injection as every other provider's:
a 429 becomes S3's ``503 SlowDown``, a 500 ``InternalError``, ``revoke`` an
``InvalidAccessKeyId`` 403, ``malformed`` a corrupted body, ``timeout``/``hang`` as elsewhere.
"""

from __future__ import annotations

import http.client
import importlib.util
import json
import re
import threading
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from .azure import AzureApi, AzureError, AzureOrg
from .bedrock import ACCESS_KEY, BedrockOrg, S3Server

AZURE_PREFIX = "/azure"
S3_PREFIX = "/aws-s3"
_DEC = "\u00a7dec\u00a7"


def has_moto() -> bool:
    return importlib.util.find_spec("moto") is not None and (
        importlib.util.find_spec("boto3") is not None
    )


def endpoint_name(path: str) -> str | None:
    """``azure.token`` / ``azure.query`` / ``bedrock.s3``, or None for other paths."""
    if path.startswith(AZURE_PREFIX + "/"):
        return AzureApi.endpoint(path)
    if path == S3_PREFIX or path.startswith(S3_PREFIX + "/"):
        return "bedrock.s3"
    return None


def dumps(obj: Any) -> bytes:
    """JSON with Decimals written as exact JSON numbers (Azure's cost numbers)."""

    def mark(value: Any) -> Any:
        if isinstance(value, Decimal):
            return _DEC + format(value, "f")
        if isinstance(value, dict):
            return {k: mark(v) for k, v in value.items()}
        if isinstance(value, list):
            return [mark(v) for v in value]
        return value

    text = json.dumps(mark(obj), separators=(",", ":"), ensure_ascii=False)
    return re.sub('"' + _DEC + r'(-?[0-9.]+)"', r"\1", text).encode()


class Clouds:
    """State of the cloud side of one fake server (started with ``clouds=True``)."""

    def __init__(self, seed: int, days: int, end: object):
        self.azure_org = AzureOrg(seed=seed, days=days, end=end)
        self.azure = AzureApi(self.azure_org)
        # Bedrock needs moto's S3 server (the ``embedded`` extra; not in the production image).
        self.bedrock_org = BedrockOrg(seed=seed, days=days, end=end) if has_moto() else None
        self.s3: S3Server | None = None
        self.ready = threading.Event()  # the CUR files are in S3

    def start_quietly(self) -> None:
        """``start`` for a background thread: a stop during start-up is not an error."""
        try:
            self.start()
        except Exception as exc:  # the server stopped while the files were written
            print(f"fakeproviders: Bedrock CUR files not written ({type(exc).__name__})")

    def start(self) -> None:
        if self.bedrock_org is not None and self.s3 is None:
            s3 = S3Server().start()
            self.bedrock_org.publish(s3.url)
            self.s3 = s3
        self.ready.set()

    def stop(self) -> None:
        if self.s3 is not None:
            self.s3.stop()
            self.s3 = None

    def truth(self, revised: dict[str, bool]) -> list[dict]:
        bedrock = self.bedrock_org.truth() if self.bedrock_org is not None else []
        return [*self.azure_org.truth(bool(revised.get("azure"))), *bedrock]

    # --- Azure --------------------------------------------------------------------------------

    def azure_answer(self, endpoint, method, path, query, headers, body, revoked, revised, host):
        """``(status, body bytes, headers)``."""
        try:
            obj = self.azure.handle(
                endpoint, method, path, query, headers, body, revoked, revised, host
            )
        except AzureError as err:
            return err.status, dumps(err.body()), {}
        return 200, dumps(obj), {}

    @staticmethod
    def azure_fault(kind: str, arg: float | None) -> tuple[int, bytes, dict[str, str]]:
        if kind in ("429", "429bare"):
            headers = {"Retry-After": str(max(1, round(arg or 1)))} if kind == "429" else {}
            body = {"error": {"code": "429", "message": "Too many requests. Please retry."}}
            return 429, dumps(body), headers
        status = 500 if kind == "500" else int(kind) if kind.isdigit() else 500
        body = {"error": {"code": "InternalServerError", "message": "An error occurred."}}
        return status, dumps(body), {}

    @staticmethod
    def azure_truncated(body: bytes) -> bytes:
        obj = json.loads(body)
        if isinstance(obj.get("properties"), dict):
            obj["properties"].pop("rows", None)
        else:
            obj.pop("access_token", None)
        return json.dumps(obj).encode()

    # --- S3 -----------------------------------------------------------------------------------

    def s3_forward(self, method: str, raw_path: str, headers, body: bytes):
        """Pass one request to moto; ``(status, body, headers)``."""
        if self.s3 is None or not self.ready.is_set():
            return 503, _s3_error("SlowDown", "The export is being written."), {}
        target = raw_path[len(S3_PREFIX) :] or "/"
        split = urlsplit(self.s3.url)
        conn = http.client.HTTPConnection(split.hostname, split.port, timeout=60)
        try:
            keep = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            try:
                conn.request(method, target, body=body or None, headers=keep)
                response = conn.getresponse()
                data = response.read()
            except OSError:  # the S3 server is stopping (Ctrl-C): a retryable answer
                return 503, _s3_error("SlowDown", "The S3 server is not answering."), {}
            out = {
                k: v
                for k, v in response.getheaders()
                if k.lower() in ("content-type", "etag", "last-modified", "x-amz-request-id")
            }
            return response.status, data, out
        finally:
            conn.close()

    @staticmethod
    def s3_auth_ok(headers, revoked: bool) -> bool:
        auth = headers.get("Authorization") or ""
        return not revoked and f"Credential={ACCESS_KEY['access_key_id']}/" in auth

    @staticmethod
    def s3_fault(kind: str) -> tuple[int, bytes, dict[str, str]]:
        if kind in ("429", "429bare", "529"):
            return 503, _s3_error("SlowDown", "Please reduce your request rate."), {}
        if kind in ("502", "503", "504"):
            return int(kind), _s3_error("ServiceUnavailable", "Service unavailable"), {}
        return 500, _s3_error("InternalError", "We encountered an internal error."), {}

    @staticmethod
    def s3_denied() -> tuple[int, bytes, dict[str, str]]:
        return (
            403,
            _s3_error(
                "InvalidAccessKeyId",
                "The AWS Access Key Id you provided does not exist in our records.",
            ),
            {},
        )


def _s3_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
        f"<Message>{message}</Message><RequestId>fake</RequestId></Error>"
    ).encode()
