"""Benchmark: the scenarios page, its live preview and ``manage.py scenario`` on stored data.

Run as ``DEBUG=1 python -m benchmarks scenarios [options]`` (or ``python -m
benchmarks.scenarios_bench``).

Two databases on the configured server (the embedded pgserver under ``var/`` or
``DATABASE_URL``), never a user's:

* **demo**: ``spendapp_bench_scen_demo``, the demo organisation (the fake OpenAI + Anthropic
  server, seed 1, 120 days, synced over loopback by the real sync); recreated unless
  ``--reuse-db`` finds it, dropped at the end unless ``--keep-db``;
* **10m**: the dashboard benchmark's ``spendapp_bench_dash`` (10M raw usage rows, kept by
  ``python -m benchmarks dashboard --keep-db``); skipped with a note when it does not exist.
  It is never dropped here.

For each: the day's total forecast (the projection) and the demand baseline are stored
first if missing, as the nightly task and a sync's hook leave them (timed, not targets).
Then, each in a **new Python process** (a restarted web process: production start-up of
``spendapp.wsgi``, nothing cached):

* **page cold**: the first ``GET /scenarios/`` of the process, and ``GET
  /scenarios/?compare=preset:80/20`` right after; ``--processes`` (8) processes, p95 of the
  first request (target <= 500 ms);
* **preview**: ``POST /scenarios/preview/`` with the 80/20 scenario as the builder sends it
  (form fields), ``--requests`` (20) times in each of two processes after its first page;
  p95 (target <= 300 ms);
* **1,000 transforms**: ``POST /scenarios/`` with 1,000 transforms: the 400 and its time,
  p95 over ``--requests`` (target < 100 ms);
* **command**: ``manage.py scenario --json --preset 80/20`` (and the other presets) as a
  whole process, Python start-up included, wall time (target <= 5 s).

Server time is measured around Django's test ``Client`` (every middleware and template).
Prints a table with PASS/FAIL, the machine and the load average before and after, and writes
``var/bench/scenarios.json``. Exit status 1 if a target is missed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[1]
if str(BASE_DIR) not in sys.path:
    sys.path.insert(0, str(BASE_DIR))

from benchmarks.ingest_bench import _admin_connect, machine_info  # noqa: E402

DEMO_DB = "spendapp_bench_scen_demo"
DASH_DB = "spendapp_bench_dash"
FINANCE_USER = "bench-finance"
PRESET = "80/20"

TARGET_PAGE_P95_MS = 500.0
TARGET_PREVIEW_P95_MS = 300.0
TARGET_BAD_POST_MS = 100.0
TARGET_COMMAND_S = 5.0


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))  # ceil
    return ordered[int(rank) - 1]


# --- Django in this process -------------------------------------------------------------------


def _db_exists(db: dict, name: str) -> bool:
    with _admin_connect(db) as conn:
        return conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()


def setup(name: str, *, recreate: bool = False, static_root: str = "") -> None:
    """Point Django at database ``name`` (recreated first when asked), then start up as
    production does."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendapp.settings")
    from django.conf import settings

    db = settings.DATABASES["default"]
    if recreate:
        with _admin_connect(db) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{name}"')
    db["NAME"] = name
    db["CONN_MAX_AGE"] = None
    if static_root:
        settings.STATIC_ROOT = static_root
    import django

    django.setup()
    settings.DEBUG = False
    if "testserver" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    import spendapp.wsgi  # noqa: F401  (gunicorn's start-up)


def finance_client():
    from django.contrib.auth.models import Group, User
    from django.test import Client

    user, _ = User.objects.get_or_create(username=FINANCE_USER)
    user.groups.add(Group.objects.get(name="Finance"))
    client = Client()
    client.force_login(user)
    return client


def seed_demo() -> dict:
    """The demo organisation: the fake server's two accounts, synced for real."""
    from spendapp.providers.fake import DEFAULT_ANTHROPIC_KEY, DEFAULT_OPENAI_KEY
    from spendapp.providers.fake.server import FakeProviderServer
    from spendapp.providers.models import ProviderAccount
    from spendapp.usage.sync import sync_account

    started = time.perf_counter()
    with FakeProviderServer(seed=1, days=120) as fake:
        for name, provider, base, key in (
            ("Demo OpenAI", "openai", fake.openai_base_url, DEFAULT_OPENAI_KEY),
            ("Demo Anthropic", "anthropic", fake.anthropic_base_url, DEFAULT_ANTHROPIC_KEY),
        ):
            account = ProviderAccount(name=name, provider=provider, base_url=base)
            account.backfill_days = 120
            account.set_key(key)
            account.save()
            run = sync_account(account.pk)
            if run.outcome != "success":
                raise SystemExit(f"demo sync failed: {run.error}")
    return {"seconds": round(time.perf_counter() - started, 1)}


def store_day() -> dict:
    """The day's total forecast and demand baseline, as the nightly task leaves them."""
    from forecasting.runs.history import default_as_of
    from forecasting.runs.models import DemandBaseline
    from forecasting.runs.projections import month_projection
    from forecasting.runs.scenarios import compute_baseline

    out = {}
    t0 = time.perf_counter()
    out["projection_ready"] = month_projection(compute=True).ready
    out["total_forecast_s"] = round(time.perf_counter() - t0, 1)
    as_of = default_as_of()
    stored = DemandBaseline.objects.filter(as_of=as_of).first()
    if stored is None:
        t0 = time.perf_counter()
        stored = compute_baseline(as_of, trigger="bench")
        out["baseline_fit_s"] = round(time.perf_counter() - t0, 1)
    else:
        out["baseline_fit_s"] = None
    out["baseline"] = {
        "as_of": str(stored.as_of),
        "models": len(stored.model_names),
        "projects": len(stored.project_names),
        "kb": round(len(bytes(stored.data)) / 1024),
        "stored_fit_s": stored.duration.total_seconds() if stored.duration else None,
        "notes": stored.notes[-3:],
    }
    return out


# --- the child: one new web process -------------------------------------------------------------


def _timed(call) -> tuple[float, object]:
    t0 = time.perf_counter()
    response = call()
    return (time.perf_counter() - t0) * 1000, response


def child(name: str, static_root: str, requests: int, previews: bool) -> dict:
    started = time.perf_counter()
    setup(name, static_root=static_root)
    startup_ms = (time.perf_counter() - started) * 1000
    from forecasting.runs.scenarios import preset_specs, scenario_inputs

    client = finance_client()
    # gunicorn's WSGIHandler loads the middleware at start-up (WhiteNoise indexes the static
    # files then); the test client's own handler would do it on the first request.
    client.handler.load_middleware()
    startup_ms = (time.perf_counter() - started) * 1000
    out: dict = {"startup_ms": round(startup_ms)}
    ms, response = _timed(lambda: client.get("/scenarios/"))
    if response.status_code != 200:
        raise SystemExit(f"/scenarios/ answered {response.status_code}")
    if b'id="chart-scenarios"' not in response.content:
        raise SystemExit("/scenarios/ has no chart: is the baseline stored?")
    out["page_first_ms"] = ms
    ms, response = _timed(lambda: client.get(f"/scenarios/?compare=preset:{PRESET}"))
    assert response.status_code == 200, response.status_code
    out["page_compare_ms"] = ms
    if not previews:
        return out
    spec = preset_specs(scenario_inputs().prices)[PRESET]
    form = {"name": "80/20 draft", "transforms": json.dumps(spec["transforms"])}
    out["preview_ms"] = []
    for _ in range(requests):
        ms, response = _timed(lambda: client.post("/scenarios/preview/", form))
        assert response.status_code == 200, response.content[:300]
        out["preview_ms"].append(ms)
    out["preview_savings"] = response.json()["draft"]["savings"]
    thousand = {
        "name": "x",
        "transforms": json.dumps([{"type": "fewer_calls", "reduction": 0.1}] * 1000),
    }
    out["bad_post_ms"] = []
    for _ in range(requests):
        ms, response = _timed(lambda: client.post("/scenarios/", thousand))
        assert response.status_code == 400 and b"transforms: at most 20" in response.content
        out["bad_post_ms"].append(ms)
    return out


def run_child(name: str, static_root: str, requests: int, previews: bool) -> dict:
    command = [
        sys.executable,
        "-m",
        "benchmarks.scenarios_bench",
        "--child",
        name,
        "--static-root",
        static_root,
        "--requests",
        str(requests),
    ]
    if previews:
        command.append("--previews")
    done = subprocess.run(command, cwd=BASE_DIR, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"child failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_command(name: str, preset: str) -> tuple[float, str]:
    """``manage.py scenario --json --preset`` as a whole process against database ``name``."""
    code = (
        "import sys; from benchmarks.scenarios_bench import setup; setup(sys.argv[1]); "
        "from django.core.management import call_command; "
        "call_command('scenario', '--json', '--preset', sys.argv[2])"
    )
    t0 = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, name, preset],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"scenario command failed:\n{done.stderr[-3000:]}")
    data = json.loads(done.stdout)
    return seconds, data["scenarios"][0]["savings"]


# --- the parent ---------------------------------------------------------------------------------


def measure(name: str, static_root: str, args) -> dict:
    from forecasting import PRESETS

    fig: dict = {"database": name}
    fig["store"] = store_day()
    from django.db import connections

    connections.close_all()
    children = [
        run_child(name, static_root, args.requests, previews=i < 2) for i in range(args.processes)
    ]
    firsts = [c["page_first_ms"] for c in children]
    previews = [ms for c in children for ms in c.get("preview_ms", [])]
    bad = [ms for c in children for ms in c.get("bad_post_ms", [])]
    fig["page_cold_ms"] = {
        "p50": percentile(firsts, 50),
        "p95": percentile(firsts, 95),
        "max": max(firsts),
        "samples": [round(v, 1) for v in firsts],
    }
    fig["page_compare_ms_p95"] = percentile([c["page_compare_ms"] for c in children], 95)
    fig["startup_ms_median"] = percentile([c["startup_ms"] for c in children], 50)
    fig["preview_ms"] = {"p50": percentile(previews, 50), "p95": percentile(previews, 95)}
    fig["thousand_transforms_ms"] = {"p50": percentile(bad, 50), "p95": percentile(bad, 95)}
    fig["commands_s"] = {}
    for preset in PRESETS:
        seconds, savings = run_command(name, preset)
        fig["commands_s"][preset] = round(seconds, 2)
        if preset == PRESET:
            fig["command_savings"] = savings
    fig["preview_savings"] = children[0].get("preview_savings")
    return fig


def targets(fig: dict) -> list[tuple[str, str, str, bool]]:
    rows = []
    cold = fig["page_cold_ms"]["p95"]
    rows.append(("/scenarios/ cold p95", f"{cold:.0f} ms", "<= 500 ms", cold <= TARGET_PAGE_P95_MS))
    pre = fig["preview_ms"]["p95"]
    rows.append(("preview p95", f"{pre:.0f} ms", "<= 300 ms", pre <= TARGET_PREVIEW_P95_MS))
    bad = fig["thousand_transforms_ms"]["p95"]
    rows.append(
        ("1,000 transforms -> 400, p95", f"{bad:.1f} ms", "< 100 ms", bad < TARGET_BAD_POST_MS)
    )
    worst = max(fig["commands_s"].values())
    rows.append(
        (
            "manage.py scenario --json --preset (slowest preset)",
            f"{worst:.2f} s",
            "<= 5 s",
            worst <= TARGET_COMMAND_S,
        )
    )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks scenarios", description=__doc__)
    parser.add_argument("--db", choices=("demo", "10m", "both"), default="both")
    parser.add_argument("--processes", type=int, default=8, help="cold web processes")
    parser.add_argument("--requests", type=int, default=20, help="previews / bad POSTs")
    parser.add_argument("--keep-db", action="store_true", help=f"keep {DEMO_DB}")
    parser.add_argument("--reuse-db", action="store_true", help=f"reuse a kept {DEMO_DB}")
    parser.add_argument(
        "--json", default=str(BASE_DIR / "var" / "bench" / "scenarios.json"), help="output file"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--static-root", default="", help=argparse.SUPPRESS)
    parser.add_argument("--previews", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(args.child, args.static_root, args.requests, args.previews)))
        return 0

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendapp.settings")
    from django.conf import settings

    db = dict(settings.DATABASES["default"])  # starts the embedded server
    report: dict = {
        "benchmark": "scenarios",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "load_average_at_start": os.getloadavg(),
        "command": " ".join(["python -m benchmarks scenarios", *(argv or sys.argv[1:])]),
        "databases": {},
    }
    wanted = ["demo", "10m"] if args.db == "both" else [args.db]
    static = tempfile.TemporaryDirectory(prefix="spendapp-bench-static-")
    failed = False
    for which in wanted:
        name = DEMO_DB if which == "demo" else DASH_DB
        exists = _db_exists(db, name)
        if which == "10m" and not exists:
            print(
                f"== 10m: skipped ({DASH_DB} missing: run the dashboard benchmark with --keep-db)"
            )
            continue
        reuse = which == "10m" or (args.reuse_db and exists)
        print(f"== {which}: database {name} ({'reused' if reuse else 'new'})", flush=True)
        if which != wanted[0]:
            # One database per process: the rest runs in a fresh interpreter.
            extra = ["--db", which, "--processes", str(args.processes)]
            extra += ["--requests", str(args.requests), "--json", args.json + f".{which}"]
            extra += ["--keep-db"] * args.keep_db + ["--reuse-db"] * args.reuse_db
            code = subprocess.call([sys.executable, "-m", "benchmarks.scenarios_bench", *extra])
            failed |= code != 0
            continue
        setup(name, recreate=not reuse, static_root=static.name)
        from django.core.management import call_command

        call_command("migrate", verbosity=0, interactive=False)
        call_command("collectstatic", verbosity=0, interactive=False, clear=True)
        fig: dict = {}
        if not reuse:
            fig["seed"] = seed_demo()
        fig.update(measure(name, static.name, args))
        fig["load_average_at_end"] = os.getloadavg()
        report["databases"][which] = fig
        rows = targets(fig)
        print(f"-- {which} ({name}); load average now {os.getloadavg()}")
        print(f"   stored: {fig['store']}")
        for label, value, target, ok in rows:
            failed |= not ok
            print(f"   {label:<52} {value:>10}  {target:<10} {'PASS' if ok else 'FAIL'}")
        compare = fig["page_compare_ms_p95"]
        print(f"   presets: {fig['commands_s']}; page ?compare p95 {compare:.0f} ms")
        saved = (fig["command_savings"], fig["preview_savings"])
        print("   80/20 savings: command {}, preview {}".format(*saved))
        if which == "demo" and not args.keep_db:
            from django.db import connections

            connections.close_all()
            with _admin_connect(db) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{DEMO_DB}" WITH (FORCE)')
    report["machine"]["load_average_at_end"] = os.getloadavg()
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2, default=str))
    print(f"machine: {report['machine']}")
    print(f"figures: {out}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
