"""Command line for the fake provider server (shared by ``-m`` and the management command)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
from typing import Any

from . import __doc__ as PACKAGE_DOC
from .faults import FaultSpecError, parse_spec
from .server import (
    DEFAULT_ANTHROPIC_ANALYTICS_KEY,
    DEFAULT_ANTHROPIC_KEY,
    DEFAULT_OPENAI_KEY,
    FakeProviderServer,
)

DESCRIPTION = (
    "Run the fake OpenAI + Anthropic admin API server in the foreground (Ctrl-C stops it), "
    "or print the ground truth with --truth."
)


def spec_help() -> str:
    doc = PACKAGE_DOC or ""
    start = doc.find("Fault SPEC")
    end = doc.find("Ground truth")
    return doc[start:end].strip() if start >= 0 else ""


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (default 8765, 0 = any)")
    parser.add_argument("--seed", type=int, default=1, help="organisation seed (default 1)")
    parser.add_argument("--days", type=int, default=120, help="days of history (default 120)")
    parser.add_argument(
        "--end",
        default=None,
        help="end of the data, YYYY-MM-DD[THH] UTC (default: start of the current UTC hour)",
    )
    parser.add_argument("--faults", default=None, metavar="SPEC", help="faults (see below)")
    parser.add_argument(
        "--timeout-delay",
        type=float,
        default=5.0,
        help="seconds a 'timeout'/'hang' fault waits (default 5)",
    )
    parser.add_argument("--openai-key", default=DEFAULT_OPENAI_KEY, help="accepted OpenAI key")
    parser.add_argument(
        "--anthropic-key", default=DEFAULT_ANTHROPIC_KEY, help="accepted Anthropic admin key"
    )
    parser.add_argument(
        "--anthropic-analytics-key",
        default=DEFAULT_ANTHROPIC_ANALYTICS_KEY,
        help="accepted Anthropic admin key that can also read the Usage and Cost Analytics API",
    )
    parser.add_argument(
        "--refuse-analytics",
        action="store_true",
        help="answer 404 to the Anthropic analytics endpoints for every key (no beta access)",
    )
    parser.add_argument(
        "--truth", action="store_true", help="print the ground truth as JSON and exit"
    )
    parser.add_argument(
        "--prices", action="store_true", help="print the price table the fake bills with and exit"
    )
    parser.add_argument("--verbose-log", action="store_true", help="log every request to stderr")
    parser.add_argument(
        "--no-clouds",
        action="store_true",
        help="serve OpenAI and Anthropic only (no Azure OpenAI, no Bedrock CUR files in S3)",
    )


def run(options: dict[str, Any], out=None) -> int:
    out = out or sys.stdout
    try:
        parse_spec(options.get("faults"))
    except FaultSpecError as exc:
        print(f"error: --faults: {exc}", file=sys.stderr)
        return 2
    if options.get("truth") or options.get("prices"):
        from . import prices, truth

        if options.get("prices"):
            result: Any = prices()
        else:
            result = truth(
                seed=options["seed"],
                days=options["days"],
                end=options.get("end"),
                faults=options.get("faults"),
                clouds=not options.get("no_clouds"),
            )
        out.write(json.dumps(result, indent=1) + "\n")
        return 0
    server = FakeProviderServer(
        host=options["host"],
        port=options["port"],
        seed=options["seed"],
        days=options["days"],
        end=options.get("end"),
        faults=options.get("faults"),
        openai_key=options["openai_key"],
        anthropic_key=options["anthropic_key"],
        anthropic_analytics_key=options.get(
            "anthropic_analytics_key", DEFAULT_ANTHROPIC_ANALYTICS_KEY
        ),
        refuse_analytics=bool(options.get("refuse_analytics")),
        timeout_delay=options["timeout_delay"],
        quiet=not options.get("verbose_log"),
        clouds=not options.get("no_clouds"),
    )
    server._bind()
    out.write(
        f"Fake provider server on {server.url}  (seed {server.seed}, {server.days} days "
        f"ending {server.org.end_ts} = {_iso(server.org.end_ts)})\n"
        f"  OpenAI     base URL {server.openai_base_url}   admin key {server.openai_key}\n"
        f"  Anthropic  base URL {server.anthropic_base_url}   admin key {server.anthropic_key}"
        "   (anthropic-version: 2023-06-01)\n"
        f"             analytics-capable admin key {server.anthropic_analytics_key}"
        + ("   (analytics refused: 404)\n" if server.refuse_analytics else "\n")
        + "".join(
            f"  {fake.provider:<10} base URL {server.base_url(fake.provider)}   key {fake.key}\n"
            for fake in server.extra.values()
        )
        + (
            f"  Azure      base URL {server.azure_base_url}   (Entra ID at /azure/login)\n"
            f"  Bedrock    S3 endpoint {server.s3_url}   (CUR 2.0 files, moto's S3 behind it)\n"
            if server.clouds is not None
            else ""
        )
        + f"  Truth      {server.url}/_truth     Faults: {options.get('faults') or 'none'}\n"
        "Ctrl-C to stop.\n"
    )
    out.flush()
    # "Ctrl-C to stop" must hold even when started from a script's background job: a
    # non-interactive shell starts those with SIGINT ignored, and Python then leaves it so.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    # SIGTERM (the launcher stopping its children) ends the same way, so the S3 server child
    # of the clouds is stopped too.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        out.write("stopped\n")
    return 0


def _iso(ts: int) -> str:
    from .org import iso

    return iso(ts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m spendapp.providers.fake",
        description=DESCRIPTION,
        epilog=spec_help(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(vars(parser.parse_args(argv)))
