"""The one HTTP client every provider connector goes through.

Behaviour, in one place:

* every call has a timeout (``connect_timeout`` for connecting, ``read_timeout`` for reading,
  writing and waiting for a pooled connection);
* 429, 408, every 5xx (including Anthropic's 529) and timeouts / transport errors are retried up
  to ``max_attempts`` attempts in total, waiting between attempts with exponential backoff and
  full jitter (``uniform(0, min(max_wait, backoff_base * 2**(attempt-1)))``);
* a ``Retry-After`` header (integer/decimal seconds or an HTTP date) replaces the backoff: we
  wait exactly that long. If it asks for more than ``max_wait`` we do not wait at all and raise
  :class:`ProviderUnavailable` at once (retrying sooner than asked is pointless, waiting longer
  would block a worker); the next scheduled sync tries again;
* a 429 without ``Retry-After`` (e.g. Anthropic's spend cap) is retried with backoff like a 5xx
  and ends in :class:`ProviderUnavailable` when attempts run out;
* 401/403 -> :class:`ProviderAuthError`, other 4xx and unexpected 1xx/3xx ->
  :class:`ProviderRequestError`, both carrying the provider's own error message (OpenAI
  ``{"error": {"message"}}`` and Anthropic ``{"type": "error", "error": {"type", "message"}}``);
* a 2xx body that is not JSON -> :class:`MalformedResponse`. JSON is parsed with
  ``parse_float=Decimal`` (money must never pass through float) and ``NaN``/``Infinity`` are
  rejected;
* redirects are not followed: a redirect would carry the key header to another URL.

The key never goes into a URL: connectors pass it in ``headers`` per call, and this client
keeps no copy of it. Error messages are built from the method, the URL path, the status and
the provider's message (scrubbed with :func:`logfilter.scrub`), never from headers. Each
attempt is logged at DEBUG as ``GET /path -> 200 in 12 ms`` (no query, no headers).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from decimal import Decimal
from typing import Any

import httpx

from spendapp.providers.errors import (
    MalformedResponse,
    ProviderAuthError,
    ProviderError,
    ProviderRequestError,
    ProviderUnavailable,
)

from .logfilter import scrub

logger = logging.getLogger("spendapp.providers.http")

USER_AGENT = "spendapp-connector/1"
RETRY_STATUSES = frozenset({408, 429})  # plus every status >= 500 (incl. 529)
MAX_MESSAGE_CHARS = 300

Params = Sequence[tuple[str, str]]


def _reject_constant(name: str) -> Any:
    raise ValueError(f"non-finite number {name} in JSON")


def loads(content: bytes | str) -> Any:
    """Parse JSON the way every connector must: numbers with a fraction become ``Decimal``."""
    return json.loads(content, parse_float=Decimal, parse_constant=_reject_constant)


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` value, or ``None`` if absent or unreadable."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        if seconds != seconds or seconds in (float("inf"), float("-inf")):
            return None
        return max(0.0, seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:  # HTTP dates are GMT
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def provider_message(response: httpx.Response, secrets: tuple[str, ...] = ()) -> str:
    """The provider's error message from either documented error shape, else a short body.

    Scrubbed of key-like strings (and ``secrets``) *before* it is shortened, so a key cut in
    half by the shortening cannot slip through.
    """
    text = ""
    try:
        body = loads(response.content)
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        error = body.get("error")
        if isinstance(error, dict):
            message = error.get("message")
            kind = error.get("type") or error.get("code")
            parts = [str(kind)] if isinstance(kind, str) and kind else []
            if isinstance(message, str) and message:
                parts.append(message)
            text = ": ".join(parts)
        elif isinstance(error, str):
            # OAuth 2.0 token endpoints (Entra ID): {"error": "invalid_client",
            # "error_description": "AADSTS7000215: ..."}.
            description = body.get("error_description")
            text = f"{error}: {description}" if isinstance(description, str) else error
        elif isinstance(body.get("message"), str):
            text = body["message"]
    if not text:
        try:
            text = response.text.strip()
        except Exception:
            text = ""
        text = " ".join(text.split())
    if not text:
        text = response.reason_phrase or "no error message"
    text = scrub(text, secrets)
    if len(text) > MAX_MESSAGE_CHARS:
        text = text[: MAX_MESSAGE_CHARS - 1] + "…"
    request_id = response.headers.get("request-id") or response.headers.get("x-request-id")
    if request_id:
        text = f"{text} (request id {scrub(request_id, secrets)[:80]})"
    return text


class HttpClient:
    """Retrying JSON-over-HTTP client shared by all connectors. Holds no credentials."""

    def __init__(
        self,
        *,
        connect_timeout: float = 10.0,
        read_timeout: float = 60.0,
        max_attempts: int = 6,
        backoff_base: float = 1.0,
        max_wait: float = 60.0,
        sleep: Callable[[float], None] = time.sleep,
        rand: Callable[[], float] = random.random,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.max_wait = max_wait
        self._sleep = sleep
        self._rand = rand
        self._client = httpx.Client(
            timeout=httpx.Timeout(read_timeout, connect=connect_timeout),
            follow_redirects=False,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
        )

    def __repr__(self) -> str:
        return (
            f"HttpClient(connect_timeout={self.connect_timeout}, "
            f"read_timeout={self.read_timeout}, max_attempts={self.max_attempts})"
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def backoff(self, attempt: int) -> float:
        """Full-jitter delay after failed attempt number ``attempt`` (1-based)."""
        ceiling = min(self.max_wait, self.backoff_base * (2 ** (attempt - 1)))
        return self._rand() * ceiling

    def get_json(
        self,
        url: str,
        *,
        params: Params = (),
        headers: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        """GET ``url`` and return its parsed JSON body, retrying as described above.

        ``secrets`` are extra exact strings to scrub from any message (the caller's key).
        """
        return self.request_json("GET", url, params=params, headers=headers, secrets=secrets)

    def post_json(
        self,
        url: str,
        *,
        params: Params = (),
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        """POST a JSON body or a form to a read-only endpoint (a query, an OAuth token) and
        return the parsed JSON answer, retrying like :meth:`get_json` (safe: nothing is
        created)."""
        return self.request_json(
            "POST",
            url,
            params=params,
            headers=headers,
            json_body=json_body,
            form=form,
            secrets=secrets,
        )

    def request_json(
        self,
        method: str,
        url: str,
        *,
        params: Params = (),
        headers: Mapping[str, str] | None = None,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        secrets: tuple[str, ...] = (),
    ) -> Any:
        path = httpx.URL(url).path or "/"
        where = f"{method} {path}"
        body: dict[str, Any] = {}
        if json_body is not None:
            body["json"] = json_body
        if form is not None:
            body["data"] = dict(form)
        last_problem = ""
        for attempt in range(1, self.max_attempts + 1):
            started = time.monotonic()
            retry_after: float | None = None
            try:
                response = self._client.request(
                    method, url, params=list(params), headers=headers, **body
                )
            except httpx.TimeoutException as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                logger.debug("%s -> timeout in %.0f ms", where, elapsed_ms)
                last_problem = f"timed out ({type(exc).__name__})"
            except httpx.TransportError as exc:
                elapsed_ms = (time.monotonic() - started) * 1000
                logger.debug("%s -> transport error in %.0f ms", where, elapsed_ms)
                last_problem = f"connection failed ({type(exc).__name__})"
            else:
                elapsed_ms = (time.monotonic() - started) * 1000
                status = response.status_code
                logger.debug("%s -> %s in %.0f ms", where, status, elapsed_ms)
                if 200 <= status < 300:
                    try:
                        return loads(response.content)
                    except (ValueError, UnicodeDecodeError) as exc:
                        raise MalformedResponse(
                            f"{where}: response is not valid JSON ({scrub(str(exc), secrets)})"
                        ) from None
                message = provider_message(response, secrets)
                if status in (401, 403):
                    error: ProviderError = ProviderAuthError(f"{where}: HTTP {status}: {message}")
                    error.status = status
                    raise error
                if status not in RETRY_STATUSES and status < 500:
                    error = ProviderRequestError(f"{where}: HTTP {status}: {message}")
                    error.status = status
                    raise error
                last_problem = f"HTTP {status}: {message}"
                retry_after = parse_retry_after(response.headers.get("retry-after"))
            if attempt == self.max_attempts:
                break
            if retry_after is not None:
                if retry_after > self.max_wait:
                    raise ProviderUnavailable(
                        f"{where}: {last_problem}; provider asks to retry after "
                        f"{retry_after:.0f} s (more than the {self.max_wait:.0f} s we wait)"
                    )
                delay = retry_after
            else:
                delay = self.backoff(attempt)
            logger.info(
                "%s failed (%s), attempt %d of %d; retrying in %.2f s",
                where,
                last_problem,
                attempt,
                self.max_attempts,
                delay,
            )
            self._sleep(delay)
        raise ProviderUnavailable(
            f"{where}: {last_problem}; gave up after {self.max_attempts} attempts"
        )
