"""Errors a connector raises; ingestion turns each into a SyncRun outcome."""


class ProviderError(Exception):
    """Base class. ``str(error)`` is safe to show and to log: it never holds the key."""

    status: int | None = None  # the HTTP status of the answer that caused it, if any


class ProviderAuthError(ProviderError):
    """401/403: the key is wrong, revoked or lacks permission. Do not retry until it changes."""


class ProviderRequestError(ProviderError):
    """4xx other than auth and rate limit: our request is wrong. Retrying will not help."""


class ProviderUnavailable(ProviderError):
    """429/5xx/529/timeouts that outlasted every retry."""


class MalformedResponse(ProviderError):
    """A page that is not what the API documents: bad JSON, missing field, wrong type.

    ``field`` names the offending field as a path, e.g. ``data[0].results[3].input_tokens``.
    """

    def __init__(self, message: str, *, field: str = ""):
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
