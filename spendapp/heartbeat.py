"""Container health checks that need no Django start-up: ``python -m spendapp.heartbeat``.

``beat`` passes while celery beat is alive and ticking: beat's scheduler
(:class:`spendapp.beat.HeartbeatScheduler`) rewrites a file with its PID on every tick (at
least every 5 s); the check fails when that process is gone or the file is older than
``--max-age`` (a beat stuck on a lock or a dead database connection).

``web`` asks gunicorn for ``/healthz`` with a Host header that ``ALLOWED_HOSTS`` accepts
(``*`` and ``.example.com`` patterns are not host names; sending them gets a 400).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from spendapp import embedded
from spendapp.env import env_list


def beat_heartbeat_file() -> Path:
    return embedded.var_dir() / "beat.heartbeat"


def touch_beat_heartbeat() -> None:
    path = beat_heartbeat_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(f"{os.getpid()}\n")
    tmp.replace(path)  # atomic: a check never reads a half-written file


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def beat_problem(max_age: float) -> str | None:
    path = beat_heartbeat_file()
    try:
        pid = int(path.read_text().split()[0])
        age = time.time() - path.stat().st_mtime
    except (OSError, ValueError, IndexError):
        return f"no beat heartbeat at {path}"
    if not _alive(pid):
        return f"beat (pid {pid}) is not running"
    if age > max_age:
        return f"beat's last tick was {age:.0f} s ago (more than {max_age:.0f} s)"
    return None


def health_host() -> str:
    """A Host header the site accepts: the first ALLOWED_HOSTS entry that names a host."""
    for host in env_list("ALLOWED_HOSTS", ["localhost"]):
        if host == "*":
            return "localhost"
        return host.lstrip(".")  # ".example.com" also matches example.com itself
    return "localhost"


def web_problem(url: str, timeout: float) -> str | None:
    if not url.startswith("http://"):
        return f"{url}: expected an http:// URL"
    request = urllib.request.Request(url, headers={"Host": health_host()})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            status = response.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    except OSError as exc:
        return f"{url}: {exc}"
    return None if status == 200 else f"{url} answered {status}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m spendapp.heartbeat")
    sub = parser.add_subparsers(dest="service", required=True)
    beat = sub.add_parser("beat", help="celery beat is alive and ticking")
    beat.add_argument("--max-age", type=float, default=60, help="seconds (default 60)")
    web = sub.add_parser("web", help="gunicorn answers /healthz with 200")
    web.add_argument("--url", default="http://127.0.0.1:8000/healthz")
    web.add_argument("--timeout", type=float, default=5)
    args = parser.parse_args(argv)
    if args.service == "beat":
        problem = beat_problem(args.max_age)
    else:
        problem = web_problem(args.url, args.timeout)
    if problem:
        print(f"unhealthy: {problem}", file=sys.stderr)
        return 1
    print("healthy")
    return 0


if __name__ == "__main__":
    sys.exit(main())
