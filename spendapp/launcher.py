"""`make run`: one command for the whole embedded stack.

Starts (or attaches to) PostgreSQL once, migrates, bootstraps, then runs the web server, a
Celery worker, Celery beat and (unless ``SPENDAPP_DEMO=0``) the fake provider server with the
demo accounts pointing at it (OpenAI, Anthropic, Azure OpenAI, AWS Bedrock), as children
that receive ``DATABASE_URL`` and so never touch pgserver themselves. Ctrl-C or SIGTERM stops
the children, then PostgreSQL (the launcher owns its lifetime; see spendapp/embedded.py for
why pgserver must not).
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
    # A process group of its own: Ctrl-C in the terminal reaches only the launcher, which then
    # stops each child once (a worker that got both SIGINT and SIGTERM shut down twice).
    return subprocess.Popen([sys.executable, *args], cwd=BASE_DIR, env=env, process_group=0)


#: Stopped first, and waited for: the processes that call the others. The Celery worker's warm
#: shutdown finishes the task it is running (the demo's first sync may still be reading the
#: fake providers), so the fake providers stop only after it; stopped together, the sync's
#: last requests failed and logged connection errors on every Ctrl-C during the first sync.
CALLERS = ("worker", "beat")


def _stop_all(procs: dict[str, subprocess.Popen]) -> None:
    callers = {name: proc for name, proc in procs.items() if name in CALLERS}
    _stop(callers)
    _stop({name: proc for name, proc in procs.items() if name not in callers})


def _stop(procs: dict[str, subprocess.Popen]) -> None:
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


def _processes(host: str, port: str, demo: bool, fake_port: str) -> dict[str, list[str]]:
    # --quiet: no banners (the launcher says what runs); task logs still show at info.
    celery = ["-m", "celery", "-A", "spendapp", "--quiet"]
    procs = {
        "web": ["manage.py", "runserver", "--noreload", f"{host}:{port}"],
        "worker": [*celery, "worker", "-l", "info", "-c", "2"],
        "beat": [*celery, "beat", "-l", "info"],
    }
    if demo:
        procs["fakeproviders"] = [
            "manage.py",
            "fakeproviders",
            "--host",
            "127.0.0.1",
            "--port",
            fake_port,
            "--days",
            "120",
        ]
    return procs


def _running(host: str, port: str, demo: bool, fake_port: str) -> str:
    parts = [f"web (http://{host}:{port}/)", "Celery worker", "Celery beat"]
    if demo:
        parts.append(f"fake providers (127.0.0.1:{fake_port}, the demo's data)")
    return ", ".join(parts)


def _wait_for_port(port: int, timeout: float = 30) -> bool:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.2)
    return False


def _queue_first_sync(env: dict[str, str], fake_port: str) -> None:
    """Once the fake server answers, sync the demo accounts now, through the worker."""
    # A first start on a busy machine imports for a while: wait as long as it takes, not 30 s.
    if not _wait_for_port(int(fake_port), timeout=180):
        print("[launcher] the fake provider server did not come up; no demo data", flush=True)
        return
    send = (
        "import django; django.setup(); from spendapp.usage.tasks import sync_all_accounts; "
        "sync_all_accounts.delay()"
    )
    subprocess.run([sys.executable, "-c", send], cwd=BASE_DIR, env=env, check=True)
    print("[launcher] demo accounts ready; the first sync is running in the worker", flush=True)


def _stop_database(url: str) -> None:
    from spendapp import embedded

    others = embedded.other_clients(url)
    if others:
        print(
            f"[launcher] PostgreSQL left running: {others} other session(s) use it "
            "(`make db-stop` stops it)",
            flush=True,
        )
        return
    embedded.stop_server()
    print("[launcher] PostgreSQL stopped", flush=True)


def main() -> int:
    from spendapp import embedded
    from spendapp.env import load_dotenv

    load_dotenv(BASE_DIR / ".env")
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    env.setdefault("DEBUG", "1")
    # The launcher is the one-machine setup the README describes; runserver's "development
    # server, not for production" banner reads as an error there (production: see README).
    env.setdefault("DJANGO_RUNSERVER_HIDE_WARNING", "true")
    embedded_db = not env.get("DATABASE_URL")
    # Stop PostgreSQL on exit only if we started it: a server that tests or another shell
    # started is theirs to stop (make db-stop).
    owns_database = embedded_db and not embedded.is_running()
    if embedded_db:
        _server, env["DATABASE_URL"] = embedded.ensure_server()
        print(f"[launcher] embedded PostgreSQL ready in {embedded.pgdata_dir()}", flush=True)
    host = env.get("HOST", "127.0.0.1")
    port = env.get("PORT", "8000")
    procs: dict[str, subprocess.Popen] = {}
    stopping = False

    def request_stop(signum, frame):
        nonlocal stopping
        stopping = True

    # The children have process groups of their own (see _start): a closed terminal (SIGHUP)
    # must stop them through the launcher as Ctrl-C does, not leave them running.
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, request_stop)
    exit_code = 0
    try:
        print("[launcher] preparing the database (migrations)", flush=True)
        _run_step(["migrate", "--noinput", "--verbosity", "0"], env)
        _run_step(["bootstrap"], env)
        demo = env.get("SPENDAPP_DEMO", "1") != "0"
        fake_port = env.get("FAKE_PROVIDERS_PORT", "8765")
        if demo:
            # Point the demo accounts at this run's fake server before any worker can sync.
            _run_step(["demo", "--clouds", "--fake-url", f"http://127.0.0.1:{fake_port}"], env)
        for name, args in _processes(host, port, demo, fake_port).items():
            procs[name] = _start(name, args, env)
        print(f"[launcher] started {_running(host, port, demo, fake_port)}", flush=True)
        if demo:
            _queue_first_sync(env, fake_port)
        print(
            f"\n[launcher] Spendapp is running: open http://{host}:{port}/  (Ctrl-C stops it)\n",
            flush=True,
        )
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
        if procs:
            print("[launcher] stopping", flush=True)
        _stop_all(procs)
        if owns_database and env.get("KEEP_DB") != "1":
            _stop_database(env["DATABASE_URL"])
    return exit_code


if __name__ == "__main__":
    sys.exit(main())
