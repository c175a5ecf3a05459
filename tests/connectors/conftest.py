"""A tiny scripted HTTP server on loopback, and helpers shared by the connector tests."""

from __future__ import annotations

import json
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest

from spendapp.providers.connectors.http import HttpClient

EXAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "provider-examples"

OPENAI_KEY = "sk-admin-TESTkey0123456789abcdefSECRET"
ANTHROPIC_KEY = "sk-ant-admin01-TESTkey0123456789abcdefSECRET"


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # dict/list -> JSON, str/bytes verbatim
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to stall before answering (for timeouts)


@dataclass
class Seen:
    method: str
    path: str
    query: list[tuple[str, str]]
    raw_target: str
    headers: dict[str, str]

    def param(self, name: str) -> str | None:
        values = [v for k, v in self.query if k == name]
        return values[-1] if values else None

    def params(self, name: str) -> list[str]:
        return [v for k, v in self.query if k == name]


class ScriptedServer:
    """Answers each request with the next scripted Reply, or with ``handler(seen)``."""

    def __init__(self) -> None:
        self.replies: deque[Reply] = deque()
        self.handler: Callable[[Seen], Reply] | None = None
        self.requests: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:  # keep test output quiet
                pass

            def do_GET(self) -> None:
                split = urlsplit(self.path)
                seen = Seen(
                    "GET",
                    split.path,
                    parse_qsl(split.query, keep_blank_values=True),
                    self.path,
                    {k.lower(): v for k, v in self.headers.items()},
                )
                server.requests.append(seen)
                if server.handler is not None:
                    reply = server.handler(seen)
                elif server.replies:
                    reply = server.replies.popleft()
                else:
                    reply = Reply(500, {"error": {"message": "script exhausted"}})
                if reply.delay:
                    threading.Event().wait(reply.delay)
                body = reply.body
                if isinstance(body, (dict, list)):
                    data = json.dumps(body).encode()
                    ctype = "application/json"
                elif isinstance(body, str):
                    data = body.encode()
                    ctype = "application/json"
                else:
                    data = body or b""
                    ctype = "application/octet-stream"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for k, v in reply.headers.items():
                        self.send_header(k, v)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def add(self, *replies: Reply) -> None:
        self.replies.extend(replies)

    def start(self) -> ScriptedServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def server():
    srv = ScriptedServer().start()
    yield srv
    srv.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def client(sleeps):
    """A client that records sleeps instead of sleeping, with small real timeouts."""
    c = HttpClient(
        connect_timeout=0.2, read_timeout=0.2, max_attempts=4, sleep=sleeps.append, rand=lambda: 0.5
    )
    yield c
    c.close()


def load_example(provider: str, name: str) -> Any:
    from spendapp.providers.connectors.http import loads

    return loads((EXAMPLES / provider / name).read_bytes())


def expected(provider: str) -> dict[str, Any]:
    # Plain json on purpose: expected values are compared via Decimal(str(x)).
    return json.loads((EXAMPLES / provider / "expected_parse.json").read_text())
