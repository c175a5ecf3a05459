import pytest


@pytest.mark.django_db
def test_healthz_answers_200_without_login_when_all_is_well(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_is_unreachable(client, settings):
    # A real connection attempt to a closed port, not a mock.
    settings.CELERY_BROKER_URL = "amqp://guest:guest@127.0.0.1:1//"
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "error"
    assert body["checks"]["database"] == "ok"
    assert "cannot reach the broker" in body["checks"]["broker"]


@pytest.mark.django_db
def test_healthz_answers_503_when_the_broker_folder_is_gone(client, settings, tmp_path):
    options = dict(settings.CELERY_BROKER_TRANSPORT_OPTIONS)
    options["data_folder_in"] = str(tmp_path / "missing")
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = options
    settings.CELERY_BROKER_URL = "filesystem://"
    response = client.get("/healthz")
    assert response.status_code == 503
    assert "missing or not writable" in response.json()["checks"]["broker"]
    assert str(tmp_path) not in response.content.decode()


@pytest.mark.django_db(transaction=True)
def test_healthz_answers_503_when_the_database_is_down(client, settings):
    from django.db import connections

    # Point the connection at a server that does not exist, then restore it.
    conn = connections["default"]
    saved = conn.settings_dict.copy()
    conn.close()
    conn.settings_dict.update(HOST="127.0.0.1", PORT="1")
    try:
        response = client.get("/healthz")
    finally:
        conn.close()
        conn.settings_dict.clear()
        conn.settings_dict.update(saved)
    assert response.status_code == 503
    body = response.json()
    # Anyone may call /healthz: the reason says what is down, never the host, port or role.
    assert body["checks"]["database"] == "cannot reach the database"
    assert body["checks"]["broker"] == "ok"
    assert "127.0.0.1" not in response.content.decode()
    assert "port" not in response.content.decode()
