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
    assert "command" not in services["web"]  # the Dockerfile's CMD: one gunicorn line
    assert "gunicorn" in (BASE_DIR / "Dockerfile").read_text().split("\nCMD ")[1]
    assert services["worker"]["command"][:4] == ["celery", "-A", "spendapp", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "spendapp", "beat"]


def test_every_long_running_service_has_a_health_check():
    services = _compose()["services"]
    for name in ("postgres", "redis", "web", "worker", "beat"):
        check = services[name].get("healthcheck")
        assert check and check["test"], name
    assert services["web"]["healthcheck"]["test"][1:] == [
        "python",
        "-m",
        "spendapp.heartbeat",
        "web",
    ]


def test_app_services_read_env_and_reach_postgres_and_redis():
    services = _compose()["services"]
    for name in ("web", "worker", "beat", "migrate"):
        service = services[name]
        assert service["env_file"] == ".env", name
        assert service["environment"]["DATABASE_URL"].startswith("postgresql://"), name
        assert service["environment"]["CELERY_BROKER_URL"].startswith("redis://redis:6379"), name


def test_secrets_are_compose_secrets_and_never_in_a_url():
    compose = _compose()
    assert set(compose["secrets"]) == {"secret_key", "fernet_keys", "postgres_password"}
    for name in ("web", "worker", "beat", "migrate"):
        environment = compose["services"][name]["environment"]
        assert set(compose["services"][name]["secrets"]) == set(compose["secrets"]), name
        assert environment["SECRET_KEY_FILE"] == "/run/secrets/secret_key", name
        assert environment["DATABASE_PASSWORD_FILE"] == "/run/secrets/postgres_password", name
        assert ":" not in environment["DATABASE_URL"].split("//", 1)[1].split("@")[0], name
    postgres = compose["services"]["postgres"]["environment"]
    assert postgres["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"


def test_data_and_mail_live_in_named_volumes():
    compose = _compose()
    assert set(compose["volumes"]) == {"pgdata", "redisdata", "maildata", "caddydata"}
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "maildata:/app/var/mail" in compose["services"]["worker"]["volumes"]


def test_the_postgres_check_uses_tcp_so_the_first_run_server_cannot_pass_it():
    test = " ".join(_compose()["services"]["postgres"]["healthcheck"]["test"])
    assert "pg_isready -h 127.0.0.1" in test


def test_every_app_service_is_bounded_in_memory_and_the_worker_in_tasks_and_time():
    services = _compose()["services"]
    for name in ("web", "worker", "beat", "migrate"):
        assert services[name]["deploy"]["resources"]["limits"]["memory"], name
    assert "--max-tasks-per-child" in services["worker"]["command"]
    grace = services["worker"]["stop_grace_period"]
    assert grace.endswith("m") and int(grace[:-1]) >= 3  # longer than a forecast run


def test_tls_is_an_optional_caddy_in_front_of_web():
    caddy = _compose()["services"]["caddy"]
    assert caddy["profiles"] == ["tls"]
    assert "web:8000" in caddy["command"]


def test_the_build_context_holds_only_what_the_dockerfile_copies():
    lines = [x for x in (BASE_DIR / ".dockerignore").read_text().splitlines() if x.strip()]
    assert "*" in lines  # everything is left out unless listed: .env, secrets/, var/, .git
    copied = {
        line.split()[1].rstrip("/")
        for line in (BASE_DIR / "Dockerfile").read_text().splitlines()
        if line.startswith("COPY ")
    }
    assert {line[1:].rstrip("/") for line in lines if line.startswith("!")} == copied


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


def test_dockerfile_installs_the_hashed_lock_before_the_code():
    lines = (BASE_DIR / "Dockerfile").read_text().splitlines()
    install = next(i for i, line in enumerate(lines) if "--require-hashes" in line)
    assert "-r requirements/production.lock" in lines[install]
    first_code = next(i for i, line in enumerate(lines) if line.startswith("COPY spendapp"))
    assert install < first_code


def test_dockerfile_runs_as_a_non_root_user():
    lines = (BASE_DIR / "Dockerfile").read_text().splitlines()
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1] not in {"root", "0"}
