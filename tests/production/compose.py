"""docker-compose.yml and the Dockerfile read the way Docker reads them, to run without Docker.

A service's environment is built in compose's order: the image's ENV, then ``env_file``, then
``environment`` (later wins; an ``env_file`` line ``NAME=`` gives an empty string, it does
not unset). Paths inside the container are mapped onto folders of this machine: the image's
WORKDIR onto a copy of the files the Dockerfile copies, ``/run/secrets`` onto a folder holding
the compose secrets.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"\$(?:\$|\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\})")


def read_env_file(path: Path) -> dict[str, str]:
    """``KEY=value`` lines as compose's env_file reads them (comments, quotes; ``KEY=`` is "")."""
    values = {}
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip()] = value
    return values


def interpolate(text: str, variables: dict[str, str]) -> str:
    """Compose's ``${VAR}``, ``${VAR:-default}``, ``${VAR:?error}`` and ``$$``."""

    def replace(match: re.Match) -> str:
        name, op, arg = match.groups()
        if name is None:
            return "$"
        value = variables.get(name)
        if op in (":-", "-") and (value is None or (op == ":-" and value == "")):
            return arg
        if op in (":?", "?") and (value is None or (op == ":?" and value == "")):
            raise ValueError(f"compose would refuse to start: {arg}")
        return value or ""

    return _VAR.sub(replace, text)


@dataclass
class Dockerfile:
    workdir: str = "/"
    env: dict[str, str] = field(default_factory=dict)
    copies: list[tuple[str, str]] = field(default_factory=list)
    runs: list[str] = field(default_factory=list)
    cmd: list[str] = field(default_factory=list)
    user: str = "root"


def read_dockerfile(path: Path = BASE_DIR / "Dockerfile") -> Dockerfile:
    text = re.sub(r"\\\n", " ", path.read_text())  # join continued lines
    image = Dockerfile()
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        instruction, _, rest = line.partition(" ")
        instruction = instruction.upper()
        if instruction == "ENV":
            for pair in shlex.split(rest):
                key, _, value = pair.partition("=")
                image.env[key] = value
        elif instruction == "WORKDIR":
            image.workdir = rest.strip()
        elif instruction == "COPY":
            src, dst = shlex.split(rest)
            image.copies.append((src, dst))
        elif instruction == "RUN":
            image.runs.append(rest.strip())
        elif instruction == "CMD":
            image.cmd = json.loads(rest)
        elif instruction == "USER":
            image.user = rest.strip()
    return image


def read_compose(variables: dict[str, str], path: Path = BASE_DIR / "docker-compose.yml") -> dict:
    """The compose file after interpolation with ``variables`` (the project's .env)."""
    return yaml.safe_load(interpolate(path.read_text(), variables))


def copy_build_context(image: Dockerfile, app_dir: Path) -> None:
    """What the Dockerfile's COPY lines put under WORKDIR, copied into ``app_dir``."""
    for src, dst in image.copies:
        source = BASE_DIR / src
        target = app_dir / dst
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
            continue
        if dst.endswith("/"):
            target = target / source.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


@dataclass
class Container:
    """Where a container's paths live on this machine."""

    app_dir: Path
    secrets_dir: Path
    workdir: str = "/app"

    def path(self, value: str) -> str:
        """Container paths (WORKDIR, /run/secrets) in a value, as paths of this machine."""
        value = re.sub(rf"(?<![\w/]){re.escape(self.workdir)}(?=/|$|\s)", str(self.app_dir), value)
        return value.replace("/run/secrets/", f"{self.secrets_dir}/")


def service_environment(
    compose: dict, image: Dockerfile, name: str, dotenv: dict[str, str], box: Container
) -> dict[str, str]:
    """Image ENV, then env_file, then environment: what the container's process sees."""
    service = compose["services"][name]
    env = dict(image.env)
    if service.get("env_file"):
        env.update(dotenv)
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    env.update({k: "" if v is None else str(v) for k, v in environment.items()})
    return {k: box.path(v) for k, v in env.items()}


def service_command(compose: dict, image: Dockerfile, name: str) -> list[str]:
    """The service's command, or the image's CMD when it has none."""
    command = compose["services"][name].get("command") or image.cmd
    return list(command) if isinstance(command, list) else shlex.split(command)


def healthcheck_argv(compose: dict, name: str) -> list[str]:
    test = compose["services"][name]["healthcheck"]["test"]
    if test[0] == "CMD":
        return list(test[1:])
    if test[0] == "CMD-SHELL":
        return ["sh", "-c", test[1]]
    raise ValueError(f"{name}: unsupported healthcheck {test!r}")
