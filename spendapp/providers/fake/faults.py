"""Fault SPEC parsing and the per-request fault decision (see the package docstring for syntax)."""

from __future__ import annotations

import random
import re
import threading
from dataclasses import dataclass, field

# kind -> default argument
RESPONSE_KINDS = {
    "429": 1.0,  # Retry-After seconds
    "429bare": None,  # 429 without Retry-After (spend cap / quota)
    "500": None,
    "502": None,
    "503": None,
    "504": None,
    "529": None,
    "timeout": None,  # answer late (delay = ARG or the server's timeout_delay)
    "hang": None,  # wait, then close the connection without answering
    "malformed": None,  # 200 with invalid JSON
    "truncated": None,  # 200 with valid JSON missing a required field
    "cutoff": None,  # 200, body cut off mid-way (Content-Length promises more)
}
STATE_KINDS = {"revise", "revoke"}
# Providers a scope may name (the clouds answer only on a server started with clouds=True).
PROVIDERS = ("openai", "anthropic", "openrouter", "deepseek", "fireworks", "azure", "bedrock")
ALIASES = {
    "429noretry": "429bare",
    "429-": "429bare",
    "overloaded": "529",
    "slow": "timeout",
    "badjson": "malformed",
    "missing": "truncated",
    "revision": "revise",
}

_ITEM = re.compile(
    r"""^(?P<kind>[a-z0-9\-]+)
        (?::(?P<arg>[0-9.]+))?
        (?:@(?P<scope>[a-z0-9_.]+))?
        (?:=(?P<rate>[0-9.]+)|\#(?P<nth>\d+)(?P<plus>\+)?)?$""",
    re.VERBOSE,
)


class FaultSpecError(ValueError):
    pass


@dataclass
class Fault:
    kind: str
    arg: float | None = None
    scope: str = ""  # "" = every API endpoint
    rate: float | None = None
    nth: int | None = None
    onwards: bool = False
    seen: int = 0  # requests matching the scope since the spec was set
    done: bool = False

    def describe(self) -> str:
        text = self.kind
        if self.arg is not None:
            text += f":{self.arg:g}"
        if self.scope:
            text += f"@{self.scope}"
        if self.rate is not None:
            text += f"={self.rate:g}"
        elif self.nth is not None:
            text += f"#{self.nth}" + ("+" if self.onwards else "")
        return text


def parse_spec(spec: str | None) -> list[Fault]:
    """Parse a SPEC like ``429=0.1,500@anthropic=0.05,malformed@openai.costs#2,revoke@openai``."""
    faults: list[Fault] = []
    if not spec:
        return faults
    for raw in re.split(r"[,;\s]+", spec.strip()):
        if not raw:
            continue
        m = _ITEM.match(raw.lower())
        if not m:
            raise FaultSpecError(f"cannot parse fault item {raw!r}")
        kind = ALIASES.get(m["kind"], m["kind"])
        if kind not in RESPONSE_KINDS and kind not in STATE_KINDS:
            known = ", ".join([*RESPONSE_KINDS, *sorted(STATE_KINDS)])
            raise FaultSpecError(f"unknown fault kind {m['kind']!r} (known: {known})")
        fault = Fault(kind=kind, scope=m["scope"] or "")
        if m["arg"] is not None:
            fault.arg = float(m["arg"])
        elif kind in RESPONSE_KINDS:
            fault.arg = RESPONSE_KINDS[kind]
        if fault.scope and fault.scope.split(".")[0] not in PROVIDERS:
            raise FaultSpecError(f"scope must start with {' or '.join(PROVIDERS)}: {raw!r}")
        if m["rate"] is not None:
            rate = float(m["rate"])
            if not 0.0 <= rate <= 1.0:
                raise FaultSpecError(f"rate must be between 0 and 1: {raw!r}")
            if kind in STATE_KINDS:
                raise FaultSpecError(f"{kind} takes #N, not a rate: {raw!r}")
            fault.rate = rate
        elif m["nth"] is not None:
            fault.nth = int(m["nth"])
            if fault.nth < 1:
                raise FaultSpecError(f"#N counts from 1: {raw!r}")
            fault.onwards = bool(m["plus"])
        elif kind in STATE_KINDS:
            fault.nth = 1  # immediately
        else:
            fault.nth, fault.onwards = 1, True  # always
        faults.append(fault)
    return faults


def scope_matches(scope: str, endpoint: str) -> bool:
    """``openai`` matches every OpenAI endpoint; ``openai.costs`` that endpoint;
    ``openai.usage`` all usage endpoints; ``anthropic.messages`` = ``anthropic.usage.messages``.
    """
    if not scope or endpoint == scope or endpoint.startswith(scope + "."):
        return True
    sp, _, rest = scope.partition(".")
    ep = endpoint.split(".")
    return bool(rest) and "." not in rest and ep[0] == sp and ep[-1] == rest


@dataclass
class Decision:
    response: Fault | None = None  # a response fault to serve instead of the real answer
    revise: set[str] = field(default_factory=set)  # providers whose data revises now
    revoke: set[str] = field(default_factory=set)  # providers whose key is revoked now


class FaultController:
    """Holds the active faults and decides, per request, which one fires (thread-safe)."""

    def __init__(self, seed: int, spec: str | None = None):
        self.seed = seed
        self.lock = threading.Lock()
        self.set(spec)

    def set(self, spec: str | None) -> None:
        faults = parse_spec(spec)
        with self.lock:
            self.spec = spec or ""
            self.faults = faults
            self.rng = random.Random(self.seed * 1_000_003 + 17)  # noqa: S311 - not crypto
            self.fired: list[dict] = []

    def pending_revisions(self) -> set[str]:
        """Providers for which a not-yet-fired revise fault is scheduled."""
        with self.lock:
            out = set()
            for f in self.faults:
                if f.kind == "revise" and not f.done:
                    out |= _providers(f.scope)
            return out

    def decide(self, endpoint: str, request_no: int) -> Decision:
        decision = Decision()
        with self.lock:
            scripted: Fault | None = None
            rated: list[Fault] = []
            for f in self.faults:
                if not scope_matches(f.scope, endpoint):
                    continue
                f.seen += 1
                if f.rate is not None:
                    rated.append(f)
                    continue
                hit = f.seen == f.nth or (f.onwards and f.seen >= f.nth)
                if not hit or f.done:
                    continue
                if f.kind == "revise":
                    f.done = True
                    decision.revise |= _providers(f.scope)
                elif f.kind == "revoke":
                    f.done = True
                    decision.revoke |= _providers(f.scope)
                elif scripted is None:
                    scripted = f
            if rated:
                # One draw per request: rates of matching faults stack, first match wins.
                u = self.rng.random()
                acc = 0.0
                for f in rated:
                    acc += f.rate
                    if u < acc:
                        if scripted is None:
                            scripted = f
                        break
            decision.response = scripted
            if scripted or decision.revise or decision.revoke:
                self.fired.append(
                    {
                        "request": request_no,
                        "endpoint": endpoint,
                        "fault": scripted.describe() if scripted else None,
                        "revise": sorted(decision.revise),
                        "revoke": sorted(decision.revoke),
                    }
                )
        return decision

    def state(self) -> dict:
        with self.lock:
            return {
                "spec": self.spec,
                "faults": [
                    {"item": f.describe(), "seen": f.seen, "done": f.done} for f in self.faults
                ],
                "fired": list(self.fired),
            }


def _providers(scope: str) -> set[str]:
    if not scope:
        return set(PROVIDERS)
    return {scope.split(".")[0]}
