"""`docker compose up` played without Docker, service by service, on this machine.

The image is a folder: a virtual environment installed from requirements/production.lock
exactly as the Dockerfile installs it (cached under var/production-venv/<hash of the lock>),
plus a copy of what the Dockerfile copies, on which its remaining RUN steps (collectstatic,
the var/ folder for the app user) run. Each service then runs its compose command, in its
compose environment, as the image's non-root user, with the container paths, the service
host names (postgres, redis) and the published port mapped onto this machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.production.compose import (
    BASE_DIR,
    Container,
    copy_build_context,
    healthcheck_argv,
    read_compose,
    read_dockerfile,
    read_env_file,
    service_command,
    service_environment,
)

LOCK = BASE_DIR / "requirements" / "production.lock"
# The image's Python version, from a path the app user may run (pyenv's lives under /root).
PYTHON = next(
    (p for p in ("/usr/local/bin/python3.11", "/usr/bin/python3.11") if os.access(p, os.X_OK)),
    "python3.11",
)
ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"


def production_venv() -> Path:
    """The production dependency set, installed from the lock as the Dockerfile does."""
    digest = hashlib.sha256(LOCK.read_bytes() + PYTHON.encode()).hexdigest()[:16]
    venv = BASE_DIR / "var" / "production-venv" / digest
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / ".lock", "w") as guard:
        fcntl.flock(guard, fcntl.LOCK_EX)  # one build at a time, others wait and reuse it
        if not (venv / ".complete").exists():
            install = next(run for run in read_dockerfile().runs if "--require-hashes" in run)
            assert install.startswith("pip install "), install
            subprocess.run([PYTHON, "-m", "venv", "--clear", str(venv)], check=True)
            args = install.split()[2:]
            args = [str(LOCK) if a == "requirements/production.lock" else a for a in args]
            pip = [str(venv / "bin" / "python"), "-m", "pip", "install", "--quiet", *args]
            subprocess.run(pip, check=True)
            (venv / ".complete").touch()
    return venv


def ensure_system_user(name: str) -> None:
    """The image's `useradd --system` user, created on this machine if missing."""
    if subprocess.run(["id", "-u", name], capture_output=True).returncode != 0:
        subprocess.run(["groupadd", "--system", "-f", name], check=True)
        subprocess.run(
            ["useradd", "--system", "--gid", name, "--no-create-home", "--home-dir", "/app", name],
            check=True,
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_image(app_dir: Path) -> Path:
    """The image's WORKDIR: the Dockerfile's copies, then its RUN steps (collectstatic, var/)."""
    image = read_dockerfile()
    ensure_system_user(image.user)
    box = Container(app_dir, app_dir / "unused", image.workdir)
    copy_build_context(image, app_dir)
    env = {"PATH": f"{production_venv()}/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root"}
    for run in image.runs:
        if run.startswith(("pip install", "groupadd")):
            continue  # the venv (production_venv) and the user (ensure_system_user)
        result = subprocess.run(
            ["sh", "-c", box.path(run)], cwd=app_dir, env=env, capture_output=True
        )
        assert result.returncode == 0, result.stderr.decode()[-3000:]
    return app_dir


class Deployment:
    """One compose project: its .env, secrets, database and broker, and running services."""

    def __init__(
        self, root: Path, app_dir: Path, venv: Path, *, broker_url: str, dotenv: dict[str, str]
    ):
        self.root = root
        self.venv = venv
        self.broker_url = broker_url
        self.image = read_dockerfile()
        self.user = self.image.user
        self.box = Container(app_dir, root / "secrets", self.image.workdir)
        self.dotenv = {**read_env_file(BASE_DIR / ".env.example"), **dotenv}
        self.compose = read_compose(self.dotenv)
        self.db_name = f"spendapp_smoke_{os.getpid()}_{int(time.time())}"
        self.port = free_port()
        self.procs: dict[str, subprocess.Popen] = {}
        self.logs = root / "logs"

    # --- building -------------------------------------------------------------------------
    def build(self, secrets: dict[str, str]) -> None:
        for folder in (self.root, self.box.secrets_dir, self.logs):
            folder.mkdir(parents=True, exist_ok=True)
            folder.chmod(0o755)
        # A new container: nothing left in var/ by the previous deployment on this image.
        for leftover in (self.box.app_dir / "var").glob("*.heartbeat"):
            leftover.unlink()
        for name, spec in self.compose["secrets"].items():
            assert spec["file"].startswith("./secrets/"), spec
            path = self.box.secrets_dir / name
            path.write_text(secrets[name] + "\n")
            path.chmod(0o644)  # a bind-mounted file keeps the host's mode
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            role = urlsplit(self.compose["x-app"]["environment"]["DATABASE_URL"]).username
            if not conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", [role]).fetchone():
                conn.execute(f'CREATE ROLE "{role}" LOGIN')
            conn.execute(f'CREATE DATABASE "{self.db_name}" OWNER "{role}"')

    def destroy(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        with psycopg.connect(ADMIN_DSN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db_name}" WITH (FORCE)')

    # --- a service's world ----------------------------------------------------------------
    def env(self, service: str) -> dict[str, str]:
        env = service_environment(self.compose, self.image, service, self.dotenv, self.box)
        url = urlsplit(env["DATABASE_URL"])
        assert url.hostname == "postgres"  # the compose service, here the machine's server
        env["DATABASE_URL"] = urlunsplit(
            url._replace(netloc=url.netloc.replace("@postgres", "@127.0.0.1"), path=self.db_name)
        )
        assert urlsplit(env["CELERY_BROKER_URL"]).hostname == "redis"
        env["CELERY_BROKER_URL"] = self.broker_url
        env["PATH"] = f"{self.venv}/bin:/usr/bin:/bin"  # the image's python first
        env["HOME"] = self.image.workdir
        # Docker sets HOSTNAME to the container's host name, which names the Celery node.
        env["HOSTNAME"] = socket.gethostname()
        return {k: self.box.path(v) for k, v in env.items()}

    def argv(self, service: str) -> list[str]:
        return [self._port(a) for a in service_command(self.compose, self.image, service)]

    def _port(self, arg: str) -> str:
        # Each container has its own network: here gunicorn gets a free loopback port.
        return arg.replace("0.0.0.0:8000", f"127.0.0.1:{self.port}")

    def _popen(self, argv, service, **kwargs) -> subprocess.Popen:
        return subprocess.Popen(
            argv,
            cwd=self.box.app_dir,
            env=self.env(service),
            user=self.user,
            group=self.user,
            extra_groups=[],
            **kwargs,
        )

    # --- running --------------------------------------------------------------------------
    def start(self, service: str) -> subprocess.Popen:
        log = open(self.logs / f"{service}.log", "a")  # noqa: SIM115
        proc = self._popen(
            self.argv(service),
            service,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.procs[service] = proc
        return proc

    def run(self, service: str, *argv: str, timeout: float = 180) -> subprocess.CompletedProcess:
        """`docker compose run --rm SERVICE argv` (or the service's own command)."""
        proc = self._popen(
            list(argv) or self.argv(service),
            service,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()
            raise
        return subprocess.CompletedProcess(proc.args, proc.returncode, out.decode(), err.decode())

    def stop(self, service: str, sig: int = signal.SIGTERM, timeout: float = 30) -> None:
        proc = self.procs.pop(service)
        if proc.poll() is None:
            os.killpg(proc.pid, sig)
            try:
                proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def healthy(self, service: str) -> bool:
        """The service's compose health check, run inside its 'container', within its timeout."""
        argv = [self._port(a) for a in healthcheck_argv(self.compose, service)]
        if argv[-1] == "web":  # the check's default URL is port 8000 inside the container
            argv += ["--url", f"http://127.0.0.1:{self.port}/healthz"]
        seconds = int(
            re.match(r"(\d+)s", self.compose["services"][service]["healthcheck"]["timeout"])[1]
        )
        try:
            return self.run(service, *argv, timeout=seconds).returncode == 0
        except subprocess.TimeoutExpired:
            return False

    def log(self, service: str) -> str:
        path = self.logs / f"{service}.log"
        return path.read_text()[-4000:] if path.exists() else ""

    def all_logs(self) -> str:
        return "\n".join(
            f"--- {p.stem}\n{self.log(p.stem)}" for p in sorted(self.logs.glob("*.log"))
        )

    def sql(self, query: str, params=()) -> list[tuple]:
        dsn = f"postgresql://postgres@127.0.0.1:5432/{self.db_name}"
        with psycopg.connect(dsn, autocommit=True) as conn:
            return conn.execute(query, params).fetchall()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"
