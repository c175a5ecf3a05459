"""docker-compose.yml and the Dockerfile cannot run here (no Docker engine): check their shape."""

from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parents[2]


def _compose() -> dict:
    return yaml.safe_load((BASE_DIR / "docker-compose.yml").read_text())


def test_compose_has_the_production_services_and_images():
    services = _compose()["services"]
    assert {"postgres", "redis", "web", "worker", "beat"} <= set(services)
    assert services["postgres"]["image"] == "postgres:16"
    assert services["redis"]["image"] == "redis:7"
    assert "gunicorn" in " ".join(services["web"]["command"])
    assert services["worker"]["command"][:4] == ["celery", "-A", "spendapp", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "spendapp", "beat"]


def test_every_long_running_service_has_a_health_check():
    services = _compose()["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        check = services[name].get("healthcheck")
        assert check and check["test"], name
    assert "/healthz" in " ".join(services["web"]["healthcheck"]["test"])


def test_app_services_read_env_and_reach_postgres_and_redis():
    services = _compose()["services"]
    for name in ("web", "worker", "beat", "migrate"):
        service = services[name]
        assert service["env_file"] == ".env", name
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://"), name
        assert service["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:6379"), name


def test_data_lives_in_named_volumes():
    compose = _compose()
    assert set(compose["volumes"]) == {"pgdata", "redisdata"}
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]


def _documented() -> set[str]:
    import re

    text = (BASE_DIR / ".env.example").read_text()
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", text, re.M))


def test_every_compose_variable_is_documented_in_env_example():
    import re

    documented = _documented()
    used = set(re.findall(r"\$\{([A-Z0-9_]+)", (BASE_DIR / "docker-compose.yml").read_text()))
    assert used <= documented


def test_every_setting_read_from_the_environment_is_documented():
    import re

    settings_src = (BASE_DIR / "spendapp" / "settings.py").read_text()
    read = set(re.findall(r'env_\w+\(\s*"([A-Z0-9_]+)"', settings_src))
    documented = _documented()
    assert read, "the regex found no settings"
    assert read <= documented, read - documented


def test_dockerfile_runs_as_a_non_root_user():
    lines = (BASE_DIR / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
