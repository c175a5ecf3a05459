"""The embedded PostgreSQL: starts once, is reused by later processes, survives a stale pid file.

Each step runs in its own process, as `make run`, pytest and one-off commands do.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psutil
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow

_START = (
    "from spendapp.embedded import ensure_server; "
    "server, url = ensure_server('probe'); print(server.get_pid()); print(url)"
)
_STOP = "from spendapp.embedded import stop_server; print(stop_server())"


def _alive(pid: int) -> bool:
    # A stopped postmaster can linger as a zombie where PID 1 does not reap orphans.
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _python(code: str, var_dir: Path) -> list[str]:
    env = dict(os.environ, SPENDAPP_VAR_DIR=str(var_dir))
    env.pop("DATABASE_URL", None)
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


@pytest.fixture
def var_dir(tmp_path_factory):
    path = tmp_path_factory.mktemp("var")
    yield path
    _python(_STOP, path)


def test_first_start_creates_the_server_and_later_processes_reuse_it(var_dir):
    first_pid, url = _python(_START, var_dir)
    assert (var_dir / "pgdata" / "PG_VERSION").exists()
    assert url.startswith("postgresql://") and "/probe?host=" in url
    # The first process has exited; the server must still be there for the next one.
    assert _alive(int(first_pid))
    second_pid, _ = _python(_START, var_dir)
    assert second_pid == first_pid


def test_stop_server_stops_it_and_a_new_start_works(var_dir):
    first_pid, _ = _python(_START, var_dir)
    assert _python(_STOP, var_dir) == ["True"]
    assert not _alive(int(first_pid))
    assert _python(_STOP, var_dir) == ["False"]
    restarted_pid, _ = _python(_START, var_dir)
    assert restarted_pid != first_pid


def test_a_stale_pid_file_naming_an_unrelated_process_is_removed_not_obeyed(var_dir):
    _python(_START, var_dir)
    _python(_STOP, var_dir)
    bystander = subprocess.Popen(["sleep", "60"])
    try:
        pidfile = var_dir / "pgdata" / "postmaster.pid"
        pidfile.write_text(f"{bystander.pid}\n{var_dir / 'pgdata'}\n")
        new_pid, _ = _python(_START, var_dir)
        assert int(new_pid) != bystander.pid
        assert psutil.Process(int(new_pid)).name().startswith("postgres")
        _python(_STOP, var_dir)
        assert bystander.poll() is None, "the unrelated process must survive"
    finally:
        bystander.kill()
        bystander.wait()


def test_remove_stale_pidfile_keeps_a_live_servers_file(var_dir):
    from spendapp.embedded import remove_stale_pidfile

    _python(_START, var_dir)
    pidfile = var_dir / "pgdata" / "postmaster.pid"
    assert remove_stale_pidfile(var_dir / "pgdata") is False
    assert pidfile.exists()
