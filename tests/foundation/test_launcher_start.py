"""`make run` from a fresh clone: the launcher's own output in its first minutes says where to
go, the admin password once and what runs, and nothing alarming; Ctrl-C stops it once.

A real launcher in a fresh ``SPENDAPP_VAR_DIR`` (its own embedded PostgreSQL, broker folders and
mail directory), on free ports, with the demo on: the same path a newcomer takes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
START_TIMEOUT = 240  # a first start initialises PostgreSQL and migrates; the machine may be busy
WATCH_AFTER_START = 45  # long enough for the demo's first sync and its budget alert
ALARMING = re.compile(r"Traceback|warning|error|critical|Aborted|No hostname|XDG_RUNTIME", re.I)
# Celery warns whoever runs a worker as root; a newcomer's `make run` is not root. Only this
# exact warning (and its continuation lines) is let through, and only when running as root.
ROOT_WARNING = re.compile(
    r"SecurityWarning: You're running the worker with superuser privileges|"
    r"^absolutely not recommended!|^Please specify a different user using the --uid option|"
    r"^User information: uid=0|^\s+_warn_or_raise_security_error\("
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Output:
    """Every line the launcher and its children print, read on a thread."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(text in line for line in self.lines):
                return True
            time.sleep(0.5)
        return False

    def finish(self) -> list[str]:
        self._thread.join(timeout=10)
        return self.lines


def _alarming(lines: list[str]) -> list[str]:
    as_root = os.geteuid() == 0
    return [
        line
        for line in lines
        if ALARMING.search(line) and not (as_root and ROOT_WARNING.search(line))
    ]


def test_a_fresh_start_prints_what_a_newcomer_needs_and_nothing_alarming(tmp_path):
    port, fake_port = _free_port(), _free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL")}
    env.pop("SPENDAPP_ADMIN_PASSWORD", None)
    env.pop("XDG_RUNTIME_DIR", None)  # as on a plain SSH login
    env.update(
        SPENDAPP_VAR_DIR=str(tmp_path / "var"),
        PORT=str(port),
        FAKE_PROVIDERS_PORT=str(fake_port),
        SPENDAPP_DEMO="1",
    )
    launcher = subprocess.Popen(
        [sys.executable, "-m", "spendapp.launcher"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output = Output(launcher.stdout)
    try:
        assert output.wait_for("Spendapp is running", START_TIMEOUT), "\n".join(output.lines)
        base = f"http://127.0.0.1:{port}"
        assert httpx.get(f"{base}/favicon.ico").status_code == 301  # no 404 in the log
        assert httpx.get(f"{base}/").status_code == 302  # to the login page
        # The demo's first sync, its budget evaluation and the alert email run meanwhile.
        output.wait_for("sync of Demo OpenAI: success", WATCH_AFTER_START)
        time.sleep(5)
    finally:
        launcher.send_signal(signal.SIGINT)  # Ctrl-C: only the launcher's process group
        code = launcher.wait(timeout=90)
    lines = output.finish()
    text = "\n".join(lines)

    assert code == 0, text
    assert f"open http://127.0.0.1:{port}/" in text
    assert len(re.findall(r"Created admin user 'admin' with password '[^']+'", text)) == 1
    assert "started web" in text and "Celery worker" in text and "fake providers" in text
    assert not _alarming(lines), "\n".join(_alarming(lines))
    assert text.count("Warm shutdown") <= 1, text
    assert " 404 " not in text, text
    assert text.rstrip().endswith("[launcher] PostgreSQL stopped"), text[-2000:]
