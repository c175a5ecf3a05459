"""`make run`: one command for the whole embedded stack.

Starts (or attaches to) PostgreSQL once, migrates, bootstraps, then runs the web server, a
Celery worker and Celery beat as children that receive ``DATABASE_URL`` and so never touch
pgserver themselves. Ctrl-C or SIGTERM stops the children, then PostgreSQL (the launcher owns
its lifetime; see spendapp/embedded.py for why pgserver must not).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
# Celery's prefork worker needs ~6 s for a warm shutdown on SIGTERM; leave it room.
STOP_TIMEOUT = 15


def _run_step(args: list[str], env: dict[str, str]) -> None:
    subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, check=True)


def _start(name: str, args: list[str], env: dict[str, str]) -> subprocess.Popen:
    print(f"[launcher] starting {name}: {' '.join(args)}", flush=True)
    return subprocess.Popen([sys.executable, *args], cwd=BASE_DIR, env=env)


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    for proc in procs.values():
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    for name, proc in procs.items():
        try:
            proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"[launcher] {name} did not stop in time; killing it", flush=True)
            proc.kill()
            proc.wait()


def _processes(host: str, port: str) -> dict[str, list[str]]:
    celery = ["-m", "celery", "-A", "spendapp"]
    return {
        "web": ["manage.py", "runserver", "--noreload", f"{host}:{port}"],
        "worker": [*celery, "worker", "-l", "info", "-c", "2"],
        "beat": [*celery, "beat", "-l", "info"],
    }


def main() -> int:
    from spendapp import embedded
    from spendapp.env import load_dotenv

    load_dotenv(BASE_DIR / ".env")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("DEBUG", "1")
    owns_database = not env.get("DATABASE_URL")
    if owns_database:
        _server, env["DATABASE_URL"] = embedded.ensure_server()
        print(f"[launcher] embedded PostgreSQL ready in {embedded.pgdata_dir()}", flush=True)
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    exit_code = 0
    try:
        _run_step(["migrate", "--noinput"], env)
        _run_step(["bootstrap"], env)
        for name, args in _processes(host, port).items():
            procs[name] = _start(name, args, env)
        print(f"\n[launcher] Spendapp is running: open http://{host}:{port}/  (Ctrl-C stops it)\n")
        while not stopping:
            dead = [name for name, proc in procs.items() if proc.poll() is not None]
            if dead:
                print(f"[launcher] {', '.join(dead)} exited; stopping everything", flush=True)
                exit_code = 1
                break
            time.sleep(0.5)
    except subprocess.CalledProcessError as exc:
        print(f"[launcher] a setup step failed: {exc}", flush=True)
        exit_code = exc.returncode or 1
    finally:
        _stop_all(procs)
        if owns_database and env.get("KEEP_DB") != "1":
            embedded.stop_server()
            print("[launcher] PostgreSQL stopped", flush=True)
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
