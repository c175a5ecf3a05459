"""The containers' health checks pass only when their service works.

The compose file runs these commands; tests/production/test_smoke.py runs them against the
real services. Here: the decisions they make, and `waitfordb`, which `migrate` runs first.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from spendapp import heartbeat
from tests.production.compose import BASE_DIR
from tests.production.deployment import free_port


@pytest.mark.parametrize(
    ("allowed", "host"),
    [
        ("spend.example.com,localhost", "spend.example.com"),
        ("*", "localhost"),  # "Host: *" would get a 400
        (".example.com", "example.com"),
        ("", "localhost"),
    ],
)
def test_the_web_check_sends_a_host_that_allowed_hosts_accepts(monkeypatch, allowed, host):
    monkeypatch.setenv("ALLOWED_HOSTS", allowed)
    assert heartbeat.health_host() == host


def test_the_web_check_fails_when_nothing_answers():
    problem = heartbeat.web_problem(f"http://127.0.0.1:{free_port()}/healthz", timeout=2)
    assert problem and "healthz" in problem


@pytest.fixture
def var_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SPENDAPP_VAR_DIR", str(tmp_path))
    return tmp_path


def test_the_beat_check_passes_on_a_fresh_heartbeat_of_a_live_process(var_dir):
    heartbeat.touch_beat_heartbeat()
    assert heartbeat.beat_problem(max_age=60) is None


def test_the_beat_check_fails_without_a_heartbeat(var_dir):
    assert "no beat heartbeat" in heartbeat.beat_problem(max_age=60)


def test_the_beat_check_fails_when_the_beat_process_is_gone(var_dir):
    gone = subprocess.Popen(["true"])
    gone.wait()
    heartbeat.beat_heartbeat_file().write_text(f"{gone.pid}\n")
    assert "is not running" in heartbeat.beat_problem(max_age=60)


def test_the_beat_check_fails_when_beat_stopped_ticking(var_dir):
    heartbeat.touch_beat_heartbeat()
    old = time.time() - 120
    os.utime(heartbeat.beat_heartbeat_file(), (old, old))
    assert "last tick was 120 s ago" in heartbeat.beat_problem(max_age=60)


def _waitfordb(url: str, timeout: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": url}
    return subprocess.run(
        [sys.executable, "manage.py", "waitfordb", "--timeout", timeout],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_migrate_waits_for_a_database_that_is_not_up_yet_and_gives_up_with_a_reason():
    started = time.monotonic()
    result = _waitfordb(f"postgresql://spendapp@127.0.0.1:{free_port()}/spendapp", "3")
    assert result.returncode != 0
    assert "Waiting for the database" in result.stderr
    assert "the database did not answer in 3 s" in result.stderr
    assert time.monotonic() - started >= 3


def test_migrate_goes_on_at_once_when_the_database_answers():
    result = _waitfordb("postgresql://postgres@127.0.0.1:5432/postgres", "3")
    assert result.returncode == 0, result.stderr
    assert "The database answers." in result.stdout
