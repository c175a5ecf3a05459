"""Run the benchmarks: ``python -m benchmarks [NAME|all] [-- extra args]``.

NAME is one of ingest, forecast, accuracy (needs the ``bench`` extra), dashboard, scenarios.

Each benchmark runs in its own Python process (``sys.executable``), so peak-memory figures
are its own. Extra arguments after ``--`` go to the chosen benchmark (not with ``all``).
The ingestion and dashboard benchmarks need ``DEBUG=1`` (development settings), as ``make bench``
sets.
"""

from __future__ import annotations

import argparse
import importlib.util
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
HERE = Path(__file__).resolve().parent
NAMES = ("ingest", "forecast", "accuracy", "dashboard", "scenarios")


def _commands() -> dict[str, list[str] | None]:
    forecast = HERE / "forecast_bench.py"
    return {
        "ingest": [sys.executable, "-m", "benchmarks.ingest_bench"],
        "dashboard": [sys.executable, "-m", "benchmarks.dashboard_bench"],
        "scenarios": [sys.executable, "-m", "benchmarks.scenarios_bench"],
        # Owned by the forecasting work; run only when it exists.
        "forecast": [sys.executable, str(forecast)] if forecast.exists() else None,
        # Needs the bench extra (statsforecast and the packages shipping the real series).
        "accuracy": [sys.executable, "-m", "benchmarks.forecast_accuracy"]
        if importlib.util.find_spec("statsforecast")
        else None,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("which", nargs="?", choices=(*NAMES, "all"), default="all")
    parser.add_argument("extra", nargs=argparse.REMAINDER, help="arguments for the benchmark")
    args = parser.parse_args(argv)
    extra = [a for a in args.extra if a != "--"] if args.extra else []
    if args.which == "all" and extra:
        parser.error(f"extra arguments need one benchmark: {', '.join(NAMES)}")
    commands = _commands()
    names = list(NAMES) if args.which == "all" else [args.which]
    status: dict[str, str] = {}
    for name in names:
        command = commands[name]
        if command is None:
            why = "needs pip install -e '.[bench]'" if name == "accuracy" else "no script"
            print(f"== {name}: skipped ({why})", flush=True)
            status[name] = "skipped"
            continue
        print(f"== {name}: {' '.join([Path(command[0]).name, *command[1:], *extra])}", flush=True)
        started = time.perf_counter()
        code = subprocess.call([*command, *extra], cwd=ROOT)
        seconds = time.perf_counter() - started
        status[name] = "ok" if code == 0 else f"exit {code}"
        print(f"== {name}: {status[name]} after {seconds:.0f} s", flush=True)
    if len(names) > 1:
        print("== summary: " + ", ".join(f"{n} {s}" for n, s in status.items()))
    return 0 if all(s in ("ok", "skipped") for s in status.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
