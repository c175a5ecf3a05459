"""The command line: truth output, determinism, errors, foreground server."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from spendapp.providers.fake import truth

ROOT = Path(__file__).resolve().parents[2]
CMD = [sys.executable, "-m", "spendapp.providers.fake"]


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CMD, *args], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_truth_cli_is_deterministic_and_matches_the_function():
    args = ["--truth", "--seed", "5", "--days", "14", "--end", "2026-05-20T06"]
    a, b = run(*args), run(*args)
    assert a.returncode == 0, a.stderr
    assert a.stdout == b.stdout
    rows = json.loads(a.stdout)
    assert rows == truth(seed=5, days=14, end="2026-05-20T06", clouds=True)
    assert rows[0]["date"] == "2026-05-06" and rows[-1]["date"] == "2026-05-20"


def test_truth_cli_follows_a_revision():
    args = ["--truth", "--days", "5", "--end", "2026-05-20"]
    plain = json.loads(run(*args).stdout)
    revised = json.loads(run(*args, "--faults", "revise@anthropic#10").stdout)
    diff = {(a["date"], a["provider"]) for a, b in zip(plain, revised, strict=True) if a != b}
    assert diff == {("2026-05-19", "anthropic")}


def test_bad_fault_spec_exits_2():
    r = run("--truth", "--faults", "explode=0.5")
    assert r.returncode == 2 and "explode" in r.stderr


def test_help_documents_the_spec():
    r = run("--help")
    assert r.returncode == 0
    assert "malformed@openai.costs#2" in r.stdout and "revoke" in r.stdout


def test_prices_cli():
    prices = json.loads(run("--prices").stdout)
    assert prices["list_prices"]["openai"]["gpt-5.5"]["output"] == "30"
    assert prices["billed_pct_of_list"] == {"openai": 100, "anthropic": 94}


@pytest.mark.skipif(os.name != "posix", reason="SIGINT handling")
def test_foreground_server_runs_until_interrupted():
    # Started with SIGINT ignored, as a shell script's background job is: Ctrl-C still stops it.
    proc = subprocess.Popen(
        [*CMD, "--port", "0", "--days", "3", "--end", "2026-05-20"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN),
    )
    try:
        first = proc.stdout.readline()
        url = first.split(" on ")[1].split()[0]
        lines = [proc.stdout.readline() for _ in range(2)]
        assert "/openai/v1" in lines[0] and "sk-admin-spendapp-demo-openai" in lines[0]
        assert "/anthropic" in lines[1] and "sk-ant-admin01-spendapp-demo-anthropic" in lines[1]
        r = httpx.get(
            url + "/openai/v1/organization/costs",
            params={"start_time": 1779062400},
            headers={"Authorization": "Bearer sk-admin-spendapp-demo-openai"},
        )
        assert r.status_code == 200
    finally:
        proc.send_signal(signal.SIGINT)
        proc.wait(timeout=10)
    assert proc.returncode == 0


def test_management_command_wraps_the_cli(capsys):
    pytest.importorskip("django")
    from django.core.management import call_command
    from django.core.management.base import CommandError

    try:
        call_command("fakeproviders", "--truth", "--days", "2", "--end", "2026-05-20")
    except CommandError as exc:
        if "Unknown command" in str(exc):
            pytest.skip(f"spendapp.providers is not in INSTALLED_APPS yet: {exc}")
        raise
    rows = json.loads(capsys.readouterr().out)
    assert rows == truth(days=2, end="2026-05-20", clouds=True)
