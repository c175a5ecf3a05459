"""Fake OpenAI and Anthropic admin usage/cost APIs, served over real HTTP on loopback; with
``clouds=True`` also Azure OpenAI (Entra ID + Cost Management Query, ``/azure``) and AWS Bedrock
(CUR 2.0 files in moto's S3 server, reached through ``/aws-s3``; see ``fake/clouds.py``).

The fake follows the providers' documented admin APIs field by field (their documented
examples are in tests/fixtures/provider-examples/). One server, two base URLs::

    OpenAI     http://HOST:PORT/openai/v1    (Authorization: Bearer sk-admin-...)
    Anthropic  http://HOST:PORT/anthropic    (x-api-key: sk-ant-admin01-..., anthropic-version)

Anthropic's Usage and Cost Analytics API (``/v1/organizations/analytics/usage`` and ``/cost``,
endpoint names ``anthropic.analytics.usage``/``.cost``) answers the admin key
``DEFAULT_ANTHROPIC_ANALYTICS_KEY`` only (403 to ``DEFAULT_ANTHROPIC_KEY``; 404 to every key
with ``refuse_analytics=True`` / ``--refuse-analytics``); see ``fake/analytics.py``.

Python::

    from spendapp.providers.fake import FakeProviderServer, truth
    with FakeProviderServer(seed=1, days=120, end="2026-05-20T15", faults="429=0.1") as fake:
        fake.openai_base_url, fake.anthropic_base_url, fake.openai_key, fake.anthropic_key
        fake.truth()          # ground truth rows (final state, after scheduled revisions)
        fake.request_log      # {"openai.costs": 3, ...}
        fake.set_faults("malformed@openai.costs#2"); fake.reset()

CLI: ``python -m spendapp.providers.fake --help`` or ``python manage.py fakeproviders --help``.

Other endpoints on the fake only (no auth): ``GET /_truth[?state=final|current]``,
``GET /_prices``, ``GET /_control/faults``, ``POST /_control/faults`` with a JSON body
``{"spec": "SPEC", "timeout_delay": 2.0}`` (replaces the faults and restarts their counters),
``POST /_control/reset`` (clears faults, key revocation, data revision and the request log),
``POST /_control/revise`` (``{"provider": "openai"}`` or ``{}`` for both: revise now).

Fault SPEC
----------
A comma-separated list of items ``KIND[:ARG][@SCOPE][=RATE | #N | #N+]``:

* ``=RATE``   every matching request fails with probability RATE (0..1). One draw per request
  from a random stream seeded by ``seed``; rates of several matching items stack.
* ``#N``      exactly the N-th matching request (counted from when the SPEC was set).
* ``#N+``     the N-th matching request and every one after it.
* no trigger  response faults: every matching request; ``revise``/``revoke``: the first one.
* ``@SCOPE``  ``openai`` / ``anthropic`` / ``azure`` / ``bedrock`` (a whole provider; the last
  two with clouds on: ``azure.token``, ``azure.query``, ``bedrock.s3``), an endpoint name such as
  ``openai.costs``, ``openai.usage.completions``, ``anthropic.usage.messages``,
  ``anthropic.cost_report``, ``openai.projects``, ``openai.project_api_keys``,
  ``openai.users``, ``anthropic.workspaces``, ``anthropic.api_keys``; a prefix
  (``openai.usage``) or ``provider.last-part`` (``anthropic.messages``). Default: everything.

Kinds:

==================  ============================================================================
``429[:S]``         429 with ``Retry-After: S`` (default 1) and the provider's rate-limit body
``429bare``         429 without Retry-After (quota / spend cap; alias ``429noretry``)
``500``             500 (OpenAI ``server_error`` / Anthropic ``api_error``)
``502``, ``503``    an HTML gateway error page (not JSON)
``504``             504 (Anthropic ``timeout_error``)
``529``             529 (Anthropic ``overloaded_error``; alias ``overloaded``)
``timeout[:S]``     wait S seconds (default: the server's ``timeout_delay``, 5 s), then answer
``hang[:S]``        wait S seconds, then close the connection without answering
``malformed``       200 whose body is not valid JSON
``truncated``       200 with valid JSON missing a required field (the first result's
                    ``input_tokens`` / ``amount`` / ``num_requests``, else ``has_more``)
``cutoff``          200 whose body stops half-way (Content-Length promises more), then closes
``revise``          from this request on, yesterday's (UTC) numbers are revised up 1-6% for
                    every third series; this request already sees them. The truth follows.
``revoke``          from this request on, the provider's admin key is rejected with 401
==================  ============================================================================

Examples: ``429=0.1,500=0.05,timeout=0.02`` · ``malformed@openai.costs#2`` ·
``revoke@anthropic#5`` · ``revise@openai#3`` · ``429:3@anthropic.cost_report#1+``.

Ground truth
------------
``truth(seed, days, end, faults)`` / ``FakeProviderServer.truth()`` / ``GET /_truth`` /
``--truth`` give rows ``{"date", "provider", "model", "project", "input_tokens",
"output_tokens", "requests", "billed_cost"}`` by UTC day x provider x model x project, where
``project`` is the OpenAI project id or the Anthropic workspace id (``"default"`` for the
default workspace), ``input_tokens`` counts every input token type, ``requests`` is OpenAI's
``num_model_requests`` (0 for Anthropic) and ``billed_cost`` is the exact decimal sum in
dollars of the emitted cost amounts (model null for cost lines without a model).

OpenRouter (``fake/openrouter.py``, base URL ``/openrouter/api/v1``) adds rows by day x model
with ``project`` null for the last 30 completed days; DeepSeek (``fake/deepseek.py``, base URL
``/deepseek``) serves a balance only and adds no rows; Fireworks AI (``fake/fireworks.py``, base
URL ``/fireworks``, account ``spendapp-demo``) adds rows by day x model with ``project`` null and
``requests`` 0 (its billing usage counts no requests) for every completed day.
"""

from __future__ import annotations

from . import azure, bedrock
from .clouds import Clouds
from .faults import PROVIDERS, FaultSpecError, parse_spec
from .org import Organisation
from .server import (
    DEFAULT_ANTHROPIC_ANALYTICS_KEY,
    DEFAULT_ANTHROPIC_KEY,
    DEFAULT_OPENAI_KEY,
    EXTRA_FAKES,
    FakeProviderServer,
    sort_truth,
)

__all__ = [
    "DEFAULT_ANTHROPIC_ANALYTICS_KEY",
    "DEFAULT_ANTHROPIC_KEY",
    "DEFAULT_OPENAI_KEY",
    "FakeProviderServer",
    "FaultSpecError",
    "Organisation",
    "azure",
    "bedrock",
    "prices",
    "truth",
]


def truth(
    seed: int = 1,
    days: int = 120,
    end: object = None,
    faults: str | None = None,
    clouds: bool = False,
) -> list[dict]:
    """Ground truth of the final data state (revised if ``faults`` schedules a revision);
    ``clouds`` adds Azure OpenAI and Bedrock (as a server started with ``clouds=True``)."""
    org = Organisation(seed=seed, days=days, end=end)
    revised: dict[str, bool] = {}
    for f in parse_spec(faults):
        if f.kind == "revise":
            for p in [f.scope.split(".")[0]] if f.scope else list(PROVIDERS):
                revised[p] = True
    rows = org.truth(revised)
    for fake in EXTRA_FAKES:
        rows += fake(seed, days, end).truth(bool(revised.get(fake.provider)))
    if clouds:
        rows += Clouds(seed, days, end).truth(revised)
    return sort_truth(rows)


def prices() -> dict:
    """The price table the fake bills with."""
    return Organisation(days=1).prices()
