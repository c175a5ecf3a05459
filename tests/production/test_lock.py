"""The production lock file pins, with hashes, every dependency pyproject.toml declares.

`make lock` writes requirements/production.lock; the Dockerfile and the production smoke test
install exactly that file. A dependency added to pyproject.toml without re-running `make
lock` fails here, in the fast suite, instead of at `docker build` time.
"""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

from tests.production.compose import BASE_DIR

LOCK = BASE_DIR / "requirements" / "production.lock"


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from the lock's ``name==version \\ --hash=...`` entries."""
    text = re.sub(r"\\\n\s*", " ", LOCK.read_text())
    entries = {}
    for line in text.splitlines():
        match = re.match(r"^([A-Za-z0-9_.\-]+)==(\S+)(.*)$", line)
        if match:
            name, version, rest = match.groups()
            entries[canonicalize_name(name)] = (version, re.findall(r"--hash=sha256:\w+", rest))
    return entries


def _declared() -> list[Requirement]:
    project = tomllib.loads((BASE_DIR / "pyproject.toml").read_text())["project"]
    return [Requirement(spec) for spec in project["dependencies"]]


def test_every_production_dependency_is_pinned_in_the_lock_within_its_range():
    locked = _locked()
    for requirement in _declared():
        name = canonicalize_name(requirement.name)
        assert name in locked, f"{name} is not in {LOCK.name}: run `make lock`"
        version = locked[name][0]
        assert SpecifierSet(str(requirement.specifier)).contains(version, prereleases=True), (
            f"{name}=={version} in the lock is outside {requirement.specifier}: run `make lock`"
        )


def test_every_locked_package_carries_hashes():
    locked = _locked()
    assert len(locked) > 30
    assert all(hashes for _, hashes in locked.values())


def test_development_only_packages_stay_out_of_the_image():
    locked = _locked()
    for name in ("pgserver", "pytest", "ruff", "playwright", "uv"):
        assert name not in locked, name
    assert {"redis", "amqp"} <= set(locked)  # broker clients: finding 1 of issue #19
