"""End-to-end fixtures: the fake provider server on loopback and real Celery workers.

Workers are separate processes that talk to the test database through DATABASE_URL and get
their tasks through the filesystem broker in a private folder; tasks are sent the way an
operator would, with ``celery call``.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.db import connection

from spendapp.providers import crypto

BASE_DIR = Path(__file__).resolve().parents[2]


def _test_database_url() -> str:
    db = connection.settings_dict
    return f"postgresql://{db['USER']}@/{db['NAME']}?host={db['HOST']}"


class Workers:
    """Start, kill and talk to Celery workers sharing one private broker folder."""

    def __init__(self, var_dir: Path, extra_env: dict[str, str]):
        self.env = dict(
            os.environ,
            DEBUG="1",
            DATABASE_URL=_test_database_url(),
            SPENDAPP_VAR_DIR=str(var_dir),
            CELERY_BROKER_URL="filesystem://",
            PYTHONUNBUFFERED="1",
            # Same keys as this process, so the workers can read the stored provider keys.
            FERNET_KEYS=",".join(crypto.configured_keys()),
            **extra_env,
        )
        self.log_dir = var_dir
        self.procs: list[subprocess.Popen] = []

    def start(self) -> subprocess.Popen:
        log = open(self.log_dir / f"worker-{len(self.procs)}.log", "w")  # noqa: SIM115
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "spendapp",
                "worker",
                "-P",
                "solo",
                "-l",
                "info",
                "--without-heartbeat",
                "--without-mingle",
                "--without-gossip",
            ],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs.append(proc)
        return proc

    def call(self, task: str, *args) -> None:
        """Send a task by name from a separate process, as an operator or beat would."""
        code = (
            "import django, json, sys; django.setup(); from spendapp.celery import app; "
            "app.send_task(sys.argv[1], args=json.loads(sys.argv[2]))"
        )
        import json

        subprocess.run(
            [sys.executable, "-c", code, task, json.dumps(list(args))],
            cwd=BASE_DIR,
            env=self.env,
            check=True,
            capture_output=True,
            timeout=60,
        )

    def kill(self, proc: subprocess.Popen) -> None:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
                    proc.wait()

    def logs(self) -> str:
        return "\n".join(p.read_text()[-3000:] for p in sorted(self.log_dir.glob("worker-*.log")))


@pytest.fixture
def workers(tmp_path_factory, request):
    marker = request.node.get_closest_marker("worker_env")
    extra = marker.kwargs if marker else {}
    pool = Workers(tmp_path_factory.mktemp("e2e-var"), extra)
    yield pool
    pool.stop_all()


def wait_for(predicate, *, timeout: float, what: str, on_timeout=lambda: ""):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}\n{on_timeout()}")


SYNC = "spendapp.usage.tasks.sync_account"


def kill_a_worker_mid_sync(workers, account, *, windows: int = 3):
    """Queue a sync of ``account`` on a new worker and SIGKILL that worker once the run has
    written ``windows`` windows (the fake's faults keep it slow enough); returns the run it
    left behind, still marked running with rows in."""
    from spendapp.usage.models import SyncRun

    victim = workers.start()
    workers.call(SYNC, account.pk, "test")
    wait_for(
        lambda: SyncRun.objects.filter(account=account, windows__gte=windows).exists(),
        timeout=120,
        what="a few windows",
        on_timeout=workers.logs,
    )
    workers.kill(victim)
    interrupted = SyncRun.objects.get(account=account)
    assert interrupted.outcome == "running" and interrupted.rows_inserted > 0
    return interrupted


def sync_until_successes(workers, account, successes: int):
    """Queue syncs of ``account`` one at a time until it has ``successes`` successful runs;
    returns its newest run."""
    from spendapp.usage.models import SyncRun

    done = SyncRun.objects.filter(account=account, outcome="success").count()
    for n in range(done + 1, successes + 1):
        workers.call(SYNC, account.pk, "test")
        wait_for(
            lambda n=n: SyncRun.objects.filter(account=account, outcome="success").count() >= n,
            timeout=300,
            what="the next sync",
            on_timeout=workers.logs,
        )
    return SyncRun.objects.filter(account=account).order_by("-started_at").first()
