"""The HTTP server: routing, auth, faults, control endpoints.

Size (~580 lines): the server, its fault injection and its control endpoints share one
request loop; splitting them would pass its state through every call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
import socket
import sys
import threading
import time
import traceback
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .analytics import AnalyticsApi, refused
from .api import (
    ANTHROPIC_VERSIONS,
    OPENAI_USAGE,
    AnthropicApi,
    ApiError,
    Cursor,
    OpenAIApi,
    Request,
    anthropic_error_body,
    openai_error_body,
)
from .clouds import Clouds
from .clouds import endpoint_name as cloud_endpoint_name
from .deepseek import DeepSeekFake
from .faults import Fault, FaultController, FaultSpecError
from .fireworks import FireworksFake
from .openrouter import OpenRouterFake
from .org import Organisation

DEFAULT_OPENAI_KEY = "sk-admin-spendapp-demo-openai"
DEFAULT_ANTHROPIC_KEY = "sk-ant-admin01-spendapp-demo-anthropic"
# An admin key that can also read the Usage and Cost Analytics API (the key above cannot).
DEFAULT_ANTHROPIC_ANALYTICS_KEY = "sk-ant-admin01-spendapp-demo-anthropic-analytics"
OPENAI_PREFIX = "/openai/v1"
ANTHROPIC_PREFIX = "/anthropic"

_OA_KEYS_PATH = re.compile(r"^/organization/projects/([^/]+)/api_keys$")
# Providers whose fake lives in its own module (prefix, endpoint names, auth, routes, truth).
EXTRA_FAKES = (OpenRouterFake, DeepSeekFake, FireworksFake)


def endpoint_name(path: str) -> str:
    """Stable endpoint name used by request_log and fault scopes."""
    if path.startswith(OPENAI_PREFIX + "/"):
        sub = path[len(OPENAI_PREFIX) :]
        if sub.startswith("/organization/usage/"):
            kind = sub[len("/organization/usage/") :]
            return f"openai.usage.{kind}" if kind in OPENAI_USAGE else "openai.unknown"
        if sub == "/organization/costs":
            return "openai.costs"
        if sub == "/organization/projects":
            return "openai.projects"
        if _OA_KEYS_PATH.match(sub):
            return "openai.project_api_keys"
        if sub == "/organization/users":
            return "openai.users"
        return "openai.unknown"
    if path.startswith(ANTHROPIC_PREFIX + "/"):
        sub = path[len(ANTHROPIC_PREFIX) :]
        return {
            "/v1/organizations/usage_report/messages": "anthropic.usage.messages",
            "/v1/organizations/usage_report/claude_code": "anthropic.usage.claude_code",
            "/v1/organizations/cost_report": "anthropic.cost_report",
            "/v1/organizations/analytics/usage": "anthropic.analytics.usage",
            "/v1/organizations/analytics/cost": "anthropic.analytics.cost",
            "/v1/organizations/workspaces": "anthropic.workspaces",
            "/v1/organizations/api_keys": "anthropic.api_keys",
        }.get(sub, "anthropic.unknown")
    for fake in EXTRA_FAKES:
        if path.startswith(fake.prefix + "/"):
            return fake.endpoint_name(path[len(fake.prefix) :])
    return "unknown"


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as separate writes
    server_version = "spendapp-fake/1.0"
    sys_version = ""

    def log_message(self, format: str, *args: Any) -> None:
        if not self.server.fake.quiet:
            sys.stderr.write("fakeproviders: " + (format % args) + "\n")

    def do_GET(self) -> None:
        self.server.fake._handle(self, "GET")

    def do_POST(self) -> None:
        self.server.fake._handle(self, "POST")

    def do_PUT(self) -> None:
        self.server.fake._handle(self, "PUT")

    def do_DELETE(self) -> None:
        self.server.fake._handle(self, "DELETE")

    def do_PATCH(self) -> None:
        self.server.fake._handle(self, "PATCH")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64


class FakeProviderServer:
    """A fake OpenAI + Anthropic admin API on loopback. See the package docstring."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        seed: int = 1,
        days: int = 120,
        end: object = None,
        faults: str | None = None,
        openai_key: str = DEFAULT_OPENAI_KEY,
        anthropic_key: str = DEFAULT_ANTHROPIC_KEY,
        anthropic_analytics_key: str = DEFAULT_ANTHROPIC_ANALYTICS_KEY,
        refuse_analytics: bool = False,
        timeout_delay: float = 5.0,
        quiet: bool = True,
        clouds: bool = False,
    ):
        self.host = host
        self.port = port
        self.seed = seed
        self.days = days
        self.openai_key = openai_key
        self.anthropic_key = anthropic_key
        self.anthropic_analytics_key = anthropic_analytics_key
        self.refuse_analytics = refuse_analytics  # 404 to every key, as without the beta
        self.timeout_delay = timeout_delay
        self.quiet = quiet
        self.org = Organisation(seed=seed, days=days, end=end)
        cursor = Cursor(seed)
        self.openai = OpenAIApi(self.org, cursor)
        self.anthropic = AnthropicApi(self.org, cursor)
        self.analytics = AnalyticsApi(self.org, cursor)
        self.extra = {f.provider: f(seed, days, end) for f in EXTRA_FAKES}
        self.faults = FaultController(seed, faults)
        # Azure OpenAI and Bedrock (CUR files in moto's S3 server, a subprocess): opt-in.
        self.clouds = Clouds(seed, days, end) if clouds else None
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None
        self._reset_state()

    # --- lifecycle ---------------------------------------------------------------------------

    def _bind(self) -> None:
        if self._httpd is None:
            self._httpd = _Server((self.host, self.port), _Handler)
            self._httpd.fake = self
            self.port = self._httpd.server_address[1]

    def start(self) -> FakeProviderServer:
        """Serve in a background (daemon) thread; returns self."""
        self._bind()
        if self.clouds is not None:
            self.clouds.start()  # ready before start() returns: tests use it at once
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fakeproviders", daemon=True
        )
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the calling thread until stop() or KeyboardInterrupt."""
        self._bind()
        if self.clouds is not None:
            # In the background: OpenAI and Anthropic answer at once; S3 answers 503 SlowDown
            # (which boto3 retries) until the CUR files are written.
            threading.Thread(target=self.clouds.start_quietly, name="clouds", daemon=True).start()
        try:
            self._httpd.serve_forever()
        finally:
            self._httpd.server_close()
            if self.clouds is not None:
                self.clouds.stop()

    def stop(self) -> None:
        self._stopping.set()
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.clouds is not None:
            self.clouds.stop()
        self._httpd = None
        self._thread = None
        self._stopping.clear()

    def __enter__(self) -> FakeProviderServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.url + OPENAI_PREFIX

    @property
    def anthropic_base_url(self) -> str:
        return self.url + ANTHROPIC_PREFIX

    @property
    def azure_base_url(self) -> str:
        """Management host (Cost Management); Entra ID's token endpoint is below ``/login``."""
        return self.url + "/azure"

    @property
    def s3_url(self) -> str:
        """The S3 endpoint holding the Bedrock CUR files (through the fault injection)."""
        return self.url + "/aws-s3"

    # --- state -------------------------------------------------------------------------------

    def _reset_state(self) -> None:
        with self._lock:
            providers = ["openai", "anthropic", *self.extra]
            if self.clouds is not None:
                providers += ["azure", "bedrock"]
            self.revised = dict.fromkeys(providers, False)
            self.revoked = dict.fromkeys(providers, False)
            self._log: Counter[str] = Counter()
            self._request_no = 0

    @property
    def request_log(self) -> dict[str, int]:
        """Requests received per endpoint name (e.g. ``openai.costs``) since start/reset."""
        with self._lock:
            return dict(self._log)

    def set_faults(self, spec: str | None) -> None:
        """Replace the active faults (raises FaultSpecError on a bad SPEC)."""
        self.faults.set(spec)

    def reset(self) -> None:
        """Clear faults, the key revocation, the data revision and the request log."""
        self.faults.set(None)
        self._reset_state()

    def revise(self, provider: str | None = None) -> None:
        """Apply the revision of yesterday's numbers now (both providers by default)."""
        with self._lock:
            for p in [provider] if provider else list(self.revised):
                self.revised[p] = True

    def truth(self, state: str = "final") -> list[dict]:
        """Ground truth rows. ``final``: after every scheduled revision (the default);
        ``current``: exactly what the API serves right now."""
        if state not in ("final", "current"):
            raise ValueError("state must be 'final' or 'current'")
        with self._lock:
            revised = dict(self.revised)
        if state == "final":
            for p in self.faults.pending_revisions():
                revised[p] = True
        rows = self.org.truth(revised)
        for provider, fake in self.extra.items():
            rows += fake.truth(bool(revised.get(provider)))
        if self.clouds is not None:
            rows += self.clouds.truth(revised)
        return sort_truth(rows)

    def base_url(self, provider: str) -> str:
        """Base URL of any provider the fake serves."""
        if provider in self.extra:
            return self.url + self.extra[provider].prefix
        return {"openai": self.openai_base_url, "anthropic": self.anthropic_base_url}[provider]

    def prices(self) -> dict:
        return self.org.prices()

    # --- request handling --------------------------------------------------------------------

    def _next_request(self, endpoint: str) -> tuple[int, str]:
        with self._lock:
            self._request_no += 1
            self._log[endpoint] += 1
            n = self._request_no
        rid = hashlib.sha256(f"{self.seed}:{n}".encode()).hexdigest()[:24]
        return n, rid

    def _handle(self, h: _Handler, method: str) -> None:
        split = urlsplit(h.path)
        path = split.path.rstrip("/") or "/"
        query = parse_qs(split.query, keep_blank_values=True)
        length = int(h.headers.get("Content-Length") or 0)
        body = h.rfile.read(length) if length else b""
        if path.startswith("/_"):
            self._control(h, method, path, query, body)
            return
        cloud = cloud_endpoint_name(path)
        if cloud is not None and self.clouds is not None:
            self._handle_cloud(h, method, cloud, path, query, body)
            return
        endpoint = endpoint_name(path)
        provider = endpoint.split(".")[0]
        n, rid = self._next_request(endpoint)
        req = Request(method, path, query, h.headers)
        headers: dict[str, str] = {}
        if provider == "anthropic":
            headers["request-id"] = f"req_011{rid}"
        elif provider == "openai":
            headers["x-request-id"] = f"req_{rid}"
        try:
            self._authenticate(provider, req)
            decision = self.faults.decide(endpoint, n) if provider != "unknown" else None
            fault = None
            if decision:
                with self._lock:
                    for p in decision.revise & self.revised.keys():
                        self.revised[p] = True
                    for p in decision.revoke & self.revoked.keys():
                        self.revoked[p] = True
                if decision.revoke:
                    self._authenticate(provider, req)  # this request already fails
                fault = decision.response
            if fault is not None:
                if fault.kind in ("timeout", "hang"):
                    delay = fault.arg if fault.arg is not None else self.timeout_delay
                    if self._stopping.wait(delay):
                        return
                    if fault.kind == "hang":
                        h.close_connection = True
                        return
                    fault = None
                elif fault.kind not in ("malformed", "truncated", "cutoff"):
                    raise self._fault_error(provider, fault)
            try:
                status, obj = self._route(provider, endpoint, req)
            except ApiError:
                raise
            except Exception as exc:  # a bug in the fake: answer like the provider would
                traceback.print_exc(file=sys.stderr)
                raise ApiError(500, f"Internal error in the fake: {exc!r}") from exc
        except ApiError as err:
            headers.update(err.headers)
            if provider == "anthropic":
                obj = anthropic_error_body(err, headers["request-id"])
            elif provider in self.extra:
                obj = self.extra[provider].error_body(err)
            else:
                obj = openai_error_body(err)
            if err.status in (502, 503) and err.etype == "html":
                self._send(h, err.status, _html(err.status, err.message), headers, "text/html")
                return
            self._send_json(h, err.status, obj, headers)
            return
        if fault is not None and status == 200:
            self._send_faulty(h, fault, obj, headers)
            return
        self._send_json(h, status, obj, headers)

    def _handle_cloud(self, h, method: str, endpoint: str, path: str, query, body) -> None:
        """Azure and S3 requests, with the same fault decisions as the other providers."""
        provider = endpoint.split(".")[0]
        n, _ = self._next_request(endpoint)
        decision = self.faults.decide(endpoint, n)
        with self._lock:
            for p in decision.revise & self.revised.keys():
                self.revised[p] = True
            for p in decision.revoke & self.revoked.keys():
                self.revoked[p] = True
            revoked, revised = self.revoked[provider], self.revised[provider]
        fault = decision.response
        if fault is not None and fault.kind in ("timeout", "hang"):
            if self._stopping.wait(fault.arg if fault.arg is not None else self.timeout_delay):
                return
            if fault.kind == "hang":
                h.close_connection = True
                return
            fault = None
        clouds = self.clouds
        azure = provider == "azure"
        if fault is not None and fault.kind not in ("malformed", "truncated", "cutoff"):
            status, data, headers = (
                clouds.azure_fault(fault.kind, fault.arg) if azure else clouds.s3_fault(fault.kind)
            )
        elif azure:
            status, data, headers = clouds.azure_answer(
                endpoint,
                method,
                path,
                query,
                h.headers,
                body,
                revoked,
                revised,
                h.headers.get("Host", f"{self.host}:{self.port}"),
            )
        elif not clouds.s3_auth_ok(h.headers, revoked):
            status, data, headers = clouds.s3_denied()
        else:
            status, data, headers = clouds.s3_forward(method, h.path, h.headers, body)
        ctype = headers.pop("Content-Type", None) or headers.pop("content-type", None)
        ctype = ctype or ("application/json" if azure else "application/xml")
        if fault is not None and status == 200 and fault.kind in ("malformed", "truncated"):
            if azure and fault.kind == "truncated":
                data = clouds.azure_truncated(data)
            else:  # invalid JSON / XML / gzip / Parquet, with a correct Content-Length
                data = data[: len(data) // 2] + b"\x00{garbage"
        elif fault is not None and status == 200:  # cutoff
            self._send_cut(h, data, headers, ctype)
            return
        self._send(h, status, data, headers, ctype)

    def _send_cut(self, h, data: bytes, headers: dict, ctype: str) -> None:
        try:
            h.send_response(200)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(data)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(data[: max(1, len(data) // 2)])
            h.wfile.flush()
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True

    def _authenticate(self, provider: str, req: Request) -> None:
        if provider in self.extra:
            with self._lock:
                revoked = self.revoked[provider]
            self.extra[provider].authenticate(req, revoked)
            return
        if provider == "openai":
            auth = req.headers.get("Authorization") or ""
            m = re.match(r"^\s*Bearer\s+(\S+)\s*$", auth, re.IGNORECASE)
            if not m:
                raise ApiError(
                    401,
                    "You didn't provide an API key. You need to provide your API key in an "
                    "Authorization header using Bearer auth (i.e. Authorization: Bearer "
                    "YOUR_KEY), or as the password field (with blank username) if you're "
                    "accessing the API from your browser and are prompted for a username and "
                    "password. You can obtain an API key from "
                    "https://platform.openai.com/account/api-keys.",
                )
            key = m.group(1)
            with self._lock:
                revoked = self.revoked["openai"]
            if key == self.openai_key and not revoked:
                return
            if not key.startswith("sk-admin-") and key.startswith("sk-"):
                raise ApiError(
                    401,
                    "This endpoint requires an Admin API key (sk-admin-...). Project, user and "
                    "service-account API keys cannot read organization usage or costs.",
                    code="invalid_api_key",
                )
            raise ApiError(
                401,
                f"Incorrect API key provided: {_redact(key)}. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        if provider == "anthropic":
            key = req.headers.get("x-api-key")
            if not key:
                raise ApiError(401, "x-api-key header is required")
            with self._lock:
                revoked = self.revoked["anthropic"]
            if key not in (self.anthropic_key, self.anthropic_analytics_key) or revoked:
                if key.startswith("sk-ant-") and not key.startswith("sk-ant-admin"):
                    raise ApiError(
                        401,
                        "This endpoint requires an Admin API key (sk-ant-admin01-...); "
                        "standard API keys cannot access the Admin API.",
                    )
                raise ApiError(401, "invalid x-api-key")
            version = req.headers.get("anthropic-version")
            if not version:
                raise ApiError(400, "anthropic-version: header is required")
            if version.strip() not in ANTHROPIC_VERSIONS:
                raise ApiError(400, f"anthropic-version: invalid value {version!r}")

    def _route(self, provider: str, endpoint: str, req: Request) -> tuple[int, Any]:
        if endpoint.endswith(".unknown") or endpoint == "unknown":
            if provider == "openai":
                raise ApiError(404, f"Invalid URL ({req.method} {req.path[len(OPENAI_PREFIX) :]})")
            raise ApiError(404, "Not found")
        if req.method != "GET":
            raise ApiError(405, f"Method {req.method} not allowed for this endpoint")
        with self._lock:
            revised = dict(self.revised)
        if provider in self.extra:
            return self.extra[provider].route(endpoint, req, revised[provider])
        if provider == "openai":
            data = self.org.data("openai", revised["openai"])
            if endpoint.startswith("openai.usage."):
                return self.openai.usage(endpoint.split(".")[-1], req, data)
            if endpoint == "openai.costs":
                return self.openai.costs(req, data)
            if endpoint == "openai.projects":
                return self.openai.projects(req)
            if endpoint == "openai.users":
                return self.openai.users(req)
            project = _OA_KEYS_PATH.match(req.path[len(OPENAI_PREFIX) :]).group(1)
            return self.openai.project_api_keys(req, project)
        data = self.org.data("anthropic", revised["anthropic"])
        if endpoint.startswith("anthropic.analytics."):
            if self.refuse_analytics:
                raise refused(404)
            if req.headers.get("x-api-key") != self.anthropic_analytics_key:
                raise refused(403)
            if endpoint == "anthropic.analytics.usage":
                return self.analytics.usage(req, data)
            return self.analytics.cost(req, data)
        if endpoint == "anthropic.usage.messages":
            return self.anthropic.messages(req, data)
        if endpoint == "anthropic.cost_report":
            return self.anthropic.cost_report(req, data)
        if endpoint == "anthropic.usage.claude_code":
            return self.anthropic.claude_code(req)
        if endpoint == "anthropic.workspaces":
            return self.anthropic.workspaces(req)
        return self.anthropic.api_keys(req)

    @staticmethod
    def _fault_error(provider: str, fault: Fault) -> ApiError:
        kind = fault.kind
        if kind == "429":
            retry = str(max(1, round(fault.arg or 1)))
            if provider == "anthropic":
                return ApiError(
                    429,
                    "This request would exceed your organization's rate limit. "
                    "Please try again later.",
                    headers={"retry-after": retry},
                )
            return ApiError(
                429,
                "Rate limit reached for requests. Please try again later.",
                etype="requests",
                code="rate_limit_exceeded",
                headers={"Retry-After": retry},
            )
        if kind == "429bare":
            if provider == "anthropic":
                return ApiError(
                    429,
                    "You have reached your specified API usage limits. You will regain access "
                    "on the first of next month.",
                )
            return ApiError(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                etype="insufficient_quota",
                code="insufficient_quota",
            )
        if kind in ("502", "503"):
            return ApiError(
                int(kind), "Bad Gateway" if kind == "502" else "Service Unavailable", etype="html"
            )
        if kind == "529":
            if provider == "anthropic":
                return ApiError(529, "Overloaded", etype="overloaded_error")
            return ApiError(529, "The server is overloaded.", etype="server_error")
        if kind == "504":
            return ApiError(
                504, "Request timed out", etype=None if provider == "anthropic" else "server_error"
            )
        # 500
        if provider == "anthropic":
            return ApiError(500, "Internal server error")
        return ApiError(
            500,
            "The server had an error while processing your request. Sorry about that!",
            etype="server_error",
        )

    # --- sending -----------------------------------------------------------------------------

    def _send(self, h: _Handler, status: int, body: bytes, headers: dict, ctype: str) -> None:
        try:
            h.send_response(status)
            h.send_header("Content-Type", ctype)
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            h.close_connection = True

    def _send_json(self, h: _Handler, status: int, obj: Any, headers: dict) -> None:
        self._send(h, status, _dumps(obj), headers, "application/json")

    def _send_faulty(self, h: _Handler, fault: Fault, obj: Any, headers: dict) -> None:
        if fault.kind == "malformed":
            body = _dumps(obj)
            body = body[:-1] + b',"data":[{]}'  # invalid JSON, correct Content-Length
            self._send(h, 200, body, headers, "application/json")
            return
        if fault.kind == "truncated":
            _drop_required(obj)
            self._send_json(h, 200, obj, headers)
            return
        # cutoff: promise the whole body, send part of it, close the connection
        body = _dumps(obj)
        try:
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Content-Length", str(len(body)))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            h.wfile.write(body[: max(1, len(body) // 2)])
            h.wfile.flush()
            with contextlib.suppress(OSError):
                h.connection.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        h.close_connection = True

    # --- control endpoints (fake only) -------------------------------------------------------

    def _control(self, h: _Handler, method: str, path: str, query: dict, body: bytes) -> None:
        try:
            if path == "/_truth" and method == "GET":
                state = (query.get("state") or ["final"])[0]
                self._send_json(h, 200, self.truth(state), {})
            elif path == "/_prices" and method == "GET":
                self._send_json(h, 200, self.prices(), {})
            elif path == "/_control/faults" and method == "GET":
                self._send_json(h, 200, self._control_state(), {})
            elif path == "/_control/faults" and method == "POST":
                payload = json.loads(body or b"{}")
                if isinstance(payload, str):
                    payload = {"spec": payload}
                spec = payload.get("spec", payload.get("faults", ""))
                self.set_faults(spec)
                if "timeout_delay" in payload:
                    self.timeout_delay = float(payload["timeout_delay"])
                self._send_json(h, 200, self._control_state(), {})
            elif path == "/_control/reset" and method == "POST":
                self.reset()
                self._send_json(h, 200, self._control_state(), {})
            elif path == "/_control/revise" and method == "POST":
                payload = json.loads(body or b"{}")
                self.revise(payload.get("provider"))
                self._send_json(h, 200, self._control_state(), {})
            else:
                self._send_json(h, 404, {"error": f"no control endpoint {method} {path}"}, {})
        except (FaultSpecError, ValueError, AttributeError) as exc:
            self._send_json(h, 400, {"error": str(exc)}, {})

    def _control_state(self) -> dict:
        with self._lock:
            state = {
                "revised": dict(self.revised),
                "revoked": dict(self.revoked),
                "request_log": dict(self._log),
                "timeout_delay": self.timeout_delay,
            }
        state.update(self.faults.state())
        return state


def sort_truth(rows: list[dict]) -> list[dict]:
    return sorted(rows, key=lambda r: (r["date"], r["provider"], r["model"] or "", r["project"]))


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def _html(status: int, message: str) -> bytes:
    return (
        f"<html>\r\n<head><title>{status} {message}</title></head>\r\n<body>\r\n"
        f"<center><h1>{status} {message}</h1></center>\r\n<hr><center>cloudflare</center>\r\n"
        "</body>\r\n</html>\r\n"
    ).encode()


def _redact(key: str) -> str:
    return key[:6] + "*" * 8 + key[-4:] if len(key) > 10 else "*" * len(key)


def _drop_required(obj: Any) -> None:
    """Remove a required field: from the first result if it has one (an Anthropic analytics
    cost row: its ``amount``), else ``has_more``.

    Anthropic's usage results mark no field required (a missing token count reads as 0), so
    a truncated Anthropic usage page loses its ``has_more`` instead.
    """
    # Fireworks: a usage row without its day, a line item without its cost.
    for rows, name in (("serverlessCosts", "startTime"), ("lineItems", "totalCost")):
        if isinstance(obj, dict) and obj.get(rows):
            del obj[rows][0][name]
            return
    if isinstance(obj, dict) and isinstance(obj.get("data"), list):
        for row in obj["data"]:  # Anthropic analytics rows: the cost's amount
            if isinstance(row, dict) and isinstance(row.get("cost"), dict):
                del row["cost"]["amount"]
                return
        for bucket in obj["data"]:
            results = bucket.get("results") if isinstance(bucket, dict) else None
            if results:
                first = results[0]
                for name in ("input_tokens", "amount", "num_requests"):
                    if name in first:
                        del first[name]
                        return
        obj.pop("has_more", None)


def wait_until_ready(url: str, timeout: float = 5.0) -> None:
    """Block until ``url``'s host:port accepts TCP connections."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while True:
        try:
            with socket.create_connection((parts.hostname, parts.port), timeout=0.5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
