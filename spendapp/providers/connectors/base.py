"""The common connector interface, and the parsing helpers both providers share.

A connector turns one provider's admin API into :mod:`spendapp.providers.records`:

* :meth:`Connector.endpoints` lists what to sync, as :class:`EndpointSpec` values;
* :meth:`Connector.fetch_pages` fetches one ``[start, end)`` window of one endpoint and yields
  every page (following ``has_more``/``next_page`` to the end, repeating the same query with
  ``page=<next_page>`` passed back verbatim);
* :meth:`Connector.names` returns display names for ids (projects/workspaces, keys, users);
* :meth:`Connector.test_connection` makes one small real call.

Errors are always :mod:`spendapp.providers.errors` classes; ``str()`` of any of them is safe to
show and log (the key never appears: it only travels in a request header, and messages are
scrubbed). ``repr()`` of a connector shows the provider and base URL only.
"""

from __future__ import annotations

import abc
import contextlib
import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal

from spendapp.providers.errors import MalformedResponse, ProviderError, ProviderRequestError
from spendapp.providers.records import BalanceRecord, NamedEntity, Page

from .http import HttpClient, Params
from .logfilter import REDACTED, register_secret, scrub

# A safety net against a server that keeps answering has_more with fresh cursors.
MAX_PAGES_PER_WINDOW = 10_000

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class EndpointSpec:
    """One thing a connector can sync.

    ``max_window`` is the longest ``[start, end)`` that :meth:`Connector.fetch_pages` accepts
    in one call; callers split longer ranges. It is chosen so that one page at the maximum
    ``page_limit`` usually covers the whole window (168 hourly buckets = 7 days).
    """

    name: str  # also the records' ``endpoint`` value, e.g. "openai.completions"
    kind: Literal["usage", "cost", "activity"]  # activity: reported, never spend
    bucket_width: str  # "1h" / "1d"
    max_window: timedelta
    page_limit: int = 0  # buckets per page we ask for (the API's maximum for the width)
    # How many days back the API can answer at all (OpenRouter's activity: the last 30
    # completed UTC days). Older windows are never asked for: an empty answer for them would
    # read as "no spend" and delete what an earlier sync stored.
    history_days: int | None = None


class Secret:
    """A string that does not show itself in ``repr``/``str`` (tracebacks with locals, etc.)."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return f"Secret('{REDACTED}')"

    __str__ = __repr__

    def __bool__(self) -> bool:
        return bool(self._value)


def checked_window(spec: EndpointSpec, start: datetime, end: datetime) -> tuple[datetime, datetime]:
    """``[start, end)`` in UTC, or a ValueError: naive datetimes, an empty window, or one longer
    than the endpoint's ``max_window`` (a caller's bug, not a provider fault)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("start and end must be timezone-aware datetimes")
    if end <= start:
        raise ValueError("end must be after start")
    if end - start > spec.max_window:
        raise ValueError(
            f"window {end - start} is longer than {spec.name}'s maximum {spec.max_window}"
        )
    return start.astimezone(UTC), end.astimezone(UTC)


class Connector(abc.ABC):
    """Base class of every provider connector."""

    provider: ClassVar[str]
    probe_endpoint: ClassVar[str]  # what test_connection reads
    connected_message: ClassVar[str]
    default_base_url: ClassVar[str]
    display_name: ClassVar[str]

    def __init__(self, base_url: str, api_key: str, *, client: HttpClient | None = None):
        if not api_key or not api_key.strip():
            raise ValueError(f"{self.display_name}: an admin API key is required")
        self.base_url = self._normalise_base_url(base_url or self.default_base_url)
        self._api_key = Secret(api_key.strip())
        register_secret(self._api_key.reveal())
        self._owns_client = client is None
        self.client = client if client is not None else HttpClient()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    @staticmethod
    def _normalise_base_url(base_url: str) -> str:
        """Both APIs live under ``/v1``; accept the base URL with or without it."""
        base = base_url.strip().rstrip("/")
        if not base.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        if not base.endswith("/v1"):
            base += "/v1"
        return base

    # -- to implement -----------------------------------------------------------------------

    @abc.abstractmethod
    def endpoints(self) -> list[EndpointSpec]:
        """What this connector syncs."""

    @abc.abstractmethod
    def _auth_headers(self) -> dict[str, str]:
        """Request headers carrying the key (built per call, never stored)."""

    @abc.abstractmethod
    def _window_params(
        self, spec: EndpointSpec, start: datetime, end: datetime
    ) -> list[tuple[str, str]]:
        """Query parameters for one window (without ``page``)."""

    @abc.abstractmethod
    def _path(self, spec: EndpointSpec) -> str:
        """URL path below ``base_url`` for an endpoint."""

    @abc.abstractmethod
    def parse_page(self, spec: EndpointSpec, body: Any) -> Page:
        """Turn one parsed JSON page into a :class:`Page`; raise MalformedResponse if bad."""

    @abc.abstractmethod
    def _names(self) -> list[NamedEntity]:
        """Display names for projects/workspaces, API keys and users."""

    def prepare(self) -> list[str]:
        """Called once at the start of each sync, before any endpoint is read: a connector
        that must first find out what the key can read (Anthropic's analytics API) asks here.
        Returns warnings for the sync run; each is safe to show (never holds the key)."""
        return []

    def _balances(self) -> list[BalanceRecord]:
        """Prepaid credit balances the provider reports now (none for most providers)."""
        return []

    def _test_connection(self) -> str:
        """One small real call: a day of ``probe_endpoint``, one bucket, parsed like any page."""
        spec = replace(
            self.endpoint(self.probe_endpoint),
            bucket_width="1d",
            max_window=timedelta(days=1),
            page_limit=1,
        )
        end = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        for _page in self.fetch_pages(spec, end - timedelta(days=1), end):
            break  # one page read and parsed is the proof
        return self.connected_message

    # -- shared behaviour ---------------------------------------------------------------------

    def endpoint(self, name: str) -> EndpointSpec:
        for spec in self.endpoints():
            if spec.name == name:
                return spec
        known = ", ".join(s.name for s in self.endpoints())
        raise ValueError(f"unknown endpoint {name!r} for {self.provider} (known: {known})")

    # Usage groupings the providers added after their first edition (OpenAI ``api_source``,
    # Anthropic ``inference_geo``/``speed``/...). A connector asks for them while this is
    # true; an API edition or key that rejects them (HTTP 400 on the first page) turns it
    # off for the connector's life and the window is fetched again without them.
    newer_groupings: bool = False

    def fetch_pages(
        self, endpoint: EndpointSpec | str, start: datetime, end: datetime
    ) -> Iterator[Page]:
        """Yield every page of ``endpoint`` for the window ``[start, end)``.

        ``start``/``end`` must be timezone-aware; the window must not be longer than the
        endpoint's ``max_window``. A page may hold no records (empty buckets).
        """
        spec = self.endpoint(endpoint) if isinstance(endpoint, str) else endpoint
        start, end = checked_window(spec, start, end)
        if spec.kind != "usage" or not self.newer_groupings:
            yield from self._fetch_pages(spec, start, end)
            return
        pages = self._fetch_pages(spec, start, end)
        try:
            first = next(pages)
        except StopIteration:
            return
        except ProviderRequestError as exc:
            logger.warning(
                "%s rejected the newer usage groupings (%s); syncing without them",
                self.display_name,
                exc,
            )
            self.newer_groupings = False
            yield from self._fetch_pages(spec, start, end)
            return
        yield first
        yield from pages

    def _fetch_pages(self, spec: EndpointSpec, start: datetime, end: datetime) -> Iterator[Page]:
        """The pages of one window, already checked and in UTC (`fetch_pages`): by default
        the provider's cursor pagination; connectors that read otherwise override this."""
        url = self._url(self._path(spec))
        params = self._window_params(spec, start, end)
        cursor: str | None = None
        seen: set[str] = set()
        for _ in range(MAX_PAGES_PER_WINDOW):
            page_params = params if cursor is None else [*params, ("page", cursor)]
            body = self._get(url, page_params)
            with self._scrubbed_errors():
                page = self.parse_page(spec, body)
            yield page
            if not page.has_more:
                return
            if not page.next_page:
                raise MalformedResponse(
                    "has_more is true but next_page is empty", field="next_page"
                )
            if page.next_page in seen:
                raise MalformedResponse(
                    "the same next_page cursor came back twice (pagination loop)",
                    field="next_page",
                )
            seen.add(page.next_page)
            cursor = page.next_page
        raise MalformedResponse(
            f"more than {MAX_PAGES_PER_WINDOW} pages for one window", field="has_more"
        )

    def names(self) -> list[NamedEntity]:
        """Display names for ids: ``project`` (OpenAI project / Anthropic workspace),
        ``api_key`` (``parent_id`` = its project/workspace) and ``user``."""
        with self._scrubbed_errors():
            return self._names()

    def balances(self) -> list[BalanceRecord]:
        """Prepaid credit balances the provider reports now (OpenRouter credits, DeepSeek's
        balance per currency); empty for providers without one."""
        with self._scrubbed_errors():
            return self._balances()

    def test_connection(self) -> str:
        """One small real call. Returns a short human message, or raises a ProviderError."""
        with self._scrubbed_errors():
            return self._test_connection()

    def close(self) -> None:
        if self._owns_client:
            self.client.close()

    def __enter__(self) -> Connector:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def _get(self, url: str, params: Params) -> Any:
        with self._scrubbed_errors():
            return self.client.get_json(
                url,
                params=params,
                headers=self._auth_headers(),
                secrets=(self._api_key.reveal(),),
            )

    @contextlib.contextmanager
    def _scrubbed_errors(self) -> Iterator[None]:
        """Last line of defence: no ProviderError leaves a connector holding the key."""
        try:
            yield
        except ProviderError as exc:
            key = self._api_key.reveal()
            exc.args = tuple(scrub(a, (key,)) if isinstance(a, str) else a for a in exc.args)
            raise

    def _list_all(
        self,
        path: str,
        params: Sequence[tuple[str, str]],
        cursor_param: str,
    ) -> Iterator[tuple[str, dict[str, Any]]]:
        """Items of a cursor-paged list endpoint (``data``/``has_more``/``last_id``).

        Yields ``(field_path, item)`` pairs so callers can name bad fields precisely.
        """
        url = self._url(path)
        after: str | None = None
        seen: set[str] = set()
        for page_no in range(MAX_PAGES_PER_WINDOW):
            query = [*params] if after is None else [*params, (cursor_param, after)]
            body = self._get(url, query)
            where = f"{path}[page {page_no}]"
            if not isinstance(body, dict):
                raise MalformedResponse("expected a JSON object", field=where)
            data = require(body, "data", list, where)
            has_more = require(body, "has_more", bool, where)
            for i, item in enumerate(data):
                if not isinstance(item, dict):
                    raise MalformedResponse("expected an object", field=f"{where}.data[{i}]")
                yield f"{where}.data[{i}]", item
            if not has_more:
                return
            last_id = body.get("last_id")
            if not isinstance(last_id, str) or not last_id:
                # Fall back to the last item's id (the cursor is an object id).
                last_id = data[-1].get("id") if data else None
            if not isinstance(last_id, str) or not last_id or last_id in seen:
                raise MalformedResponse("has_more is true but no usable last_id", field=where)
            seen.add(last_id)
            after = last_id
        raise MalformedResponse("too many pages", field=path)


# -- parsing helpers ---------------------------------------------------------------------------


def show(value: str, limit: int = 40) -> str:
    """A provider value quoted in an error message: scrubbed first, then shortened."""
    return repr(scrub(value)[:limit])


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def require(obj: dict[str, Any], key: str, kind: type | tuple[type, ...], where: str = "") -> Any:
    """A required field: present, not null, of the given JSON type."""
    if key not in obj or obj[key] is None:
        raise MalformedResponse("required field is missing", field=_join(where, key))
    value = obj[key]
    if not _is_kind(value, kind):
        raise MalformedResponse(
            f"expected {_kind_name(kind)}, got {type(value).__name__}", field=_join(where, key)
        )
    return value


def _is_kind(value: Any, kind: type | tuple[type, ...]) -> bool:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    if isinstance(value, bool) and bool not in kinds:
        return False
    return isinstance(value, kinds)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    kinds = kind if isinstance(kind, tuple) else (kind,)
    names = {str: "string", int: "integer", bool: "boolean", list: "array", dict: "object"}
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _as_int(value: Any, field: str) -> int:
    if isinstance(value, bool):
        raise MalformedResponse("expected an integer, got boolean", field=field)
    if isinstance(value, int):
        result = value
    elif isinstance(value, Decimal) and value.is_finite() and value == value.to_integral_value():
        result = int(value)
    else:
        raise MalformedResponse(f"expected an integer, got {type(value).__name__}", field=field)
    if result < 0:
        raise MalformedResponse(f"negative count {result}", field=field)
    return result


def required_count(obj: dict[str, Any], key: str, where: str) -> int:
    """A required non-negative integer."""
    if key not in obj or obj[key] is None:
        raise MalformedResponse("required field is missing", field=_join(where, key))
    return _as_int(obj[key], _join(where, key))


def optional_count(obj: dict[str, Any] | None, key: str, where: str) -> int | None:
    """An optional non-negative integer; ``None`` when absent or null."""
    if obj is None or obj.get(key) is None:
        return None
    return _as_int(obj[key], _join(where, key))


def count_or_zero(obj: dict[str, Any] | None, key: str, where: str) -> int:
    value = optional_count(obj, key, where)
    return 0 if value is None else value


def optional_object(obj: dict[str, Any], key: str, where: str) -> dict[str, Any] | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MalformedResponse(
            f"expected an object, got {type(value).__name__}", field=_join(where, key)
        )
    return value


def dimension(obj: dict[str, Any], key: str, where: str) -> str:
    """An optional string dimension; null/absent -> ``""``; booleans -> ``"true"/"false"``."""
    value = obj.get(key)
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    raise MalformedResponse(
        f"expected a string, got {type(value).__name__}", field=_join(where, key)
    )


def optional_decimal(value: Any, field: str) -> Decimal | None:
    """A JSON number (already Decimal/int thanks to ``parse_float=Decimal``) or numeric string."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise MalformedResponse("expected a number, got boolean", field=field)
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, str):
        try:
            result = Decimal(value.strip())
        except ArithmeticError:
            raise MalformedResponse(f"not a decimal number: {show(value)}", field=field) from None
    else:
        raise MalformedResponse(f"expected a number, got {type(value).__name__}", field=field)
    if not result.is_finite():
        raise MalformedResponse("not a finite number", field=field)
    return result


def utc_from_unix(value: Any, field: str) -> datetime:
    if isinstance(value, bool) or not isinstance(value, (int, Decimal)):
        raise MalformedResponse(
            f"expected Unix seconds (integer), got {type(value).__name__}", field=field
        )
    try:
        return datetime.fromtimestamp(int(value), tz=UTC)
    except (OverflowError, OSError, ValueError):
        raise MalformedResponse(f"timestamp out of range: {value}", field=field) from None


def utc_from_rfc3339(value: Any, field: str) -> datetime:
    if not isinstance(value, str):
        raise MalformedResponse(
            f"expected an RFC 3339 string, got {type(value).__name__}", field=field
        )
    text = value.strip()
    if text[-1:] in ("z", "Z"):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        raise MalformedResponse(f"not an RFC 3339 time: {show(value)}", field=field) from None
    if parsed.tzinfo is None:
        raise MalformedResponse(f"RFC 3339 time without an offset: {show(value)}", field=field)
    return parsed.astimezone(UTC)


def rfc3339(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    if moment.microsecond:
        return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def unix_seconds(moment: datetime) -> str:
    return str(int(moment.timestamp() // 1))
