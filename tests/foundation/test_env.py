from pathlib import Path

import pytest
from django.core.exceptions import ImproperlyConfigured

from spendapp import env


def test_booleans_accept_the_usual_spellings():
    assert env.env_bool("X", env={"X": "yes"}) is True
    assert env.env_bool("X", env={"X": "0"}) is False
    assert env.env_bool("X", True, env={}) is True


def test_a_bad_boolean_names_the_variable():
    with pytest.raises(ImproperlyConfigured, match=r"^DEBUG: expected a boolean.*'maybe'"):
        env.env_bool("DEBUG", env={"DEBUG": "maybe"})


def test_integers_are_checked_for_type_and_range():
    assert env.env_int("PORT", 1, env={"PORT": " 8080 "}) == 8080
    assert env.env_int("PORT", 587, env={"PORT": ""}) == 587
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT: expected a whole number"):
        env.env_int("EMAIL_PORT", 1, env={"EMAIL_PORT": "80a"})
    with pytest.raises(ImproperlyConfigured, match="EMAIL_PORT: must be at most 65535"):
        env.env_int("EMAIL_PORT", 1, max_value=65535, env={"EMAIL_PORT": "70000"})


def test_lists_drop_blanks():
    assert env.env_list("HOSTS", [], env={"HOSTS": "a.com, ,b.com"}) == ["a.com", "b.com"]
    assert env.env_list("HOSTS", ["x"], env={}) == ["x"]


def test_time_zone_must_be_an_iana_name():
    assert env.env_timezone("ORG_TIME_ZONE", "UTC", env={"ORG_TIME_ZONE": "Europe/Paris"})
    with pytest.raises(ImproperlyConfigured, match="ORG_TIME_ZONE: unknown time zone 'Mars/Base'"):
        env.env_timezone("ORG_TIME_ZONE", "UTC", env={"ORG_TIME_ZONE": "Mars/Base"})


def test_currency_must_be_three_letters():
    assert env.env_currency("ORG_CURRENCY", "USD", env={"ORG_CURRENCY": "eur"}) == "EUR"
    with pytest.raises(ImproperlyConfigured, match="ORG_CURRENCY: expected a 3-letter"):
        env.env_currency("ORG_CURRENCY", "USD", env={"ORG_CURRENCY": "dollars"})


def test_secrets_can_come_from_a_file(tmp_path: Path):
    secret = tmp_path / "key"
    secret.write_text("s3cret\n")
    assert env.env_str("SECRET_KEY", env={"SECRET_KEY_FILE": str(secret)}) == "s3cret"
    with pytest.raises(ImproperlyConfigured, match="SECRET_KEY_FILE: cannot read"):
        env.env_str("SECRET_KEY", env={"SECRET_KEY_FILE": str(tmp_path / "missing")})


def test_an_empty_variable_is_unset_everywhere():
    empty = {"X": "", "Y": "  "}
    assert env.env_str("X", "default", env=empty) == "default"
    assert env.env_bool("X", True, env=empty) is True
    assert env.env_int("Y", 7, env=empty) == 7
    assert env.env_list("X", ["a"], env=empty) == ["a"]
    assert env.env_timezone("X", "Europe/Paris", env=empty) == "Europe/Paris"
    assert env.env_is_set("X", env=empty) is False


def test_a_secret_file_is_used_when_the_plain_variable_is_empty(tmp_path: Path):
    secret = tmp_path / "key"
    secret.write_text("from-the-file\n")
    layout = {"SECRET_KEY": "", "SECRET_KEY_FILE": str(secret)}  # .env.example + compose
    assert env.env_str("SECRET_KEY", env=layout) == "from-the-file"
    assert env.env_str("SECRET_KEY", env={**layout, "SECRET_KEY": "plain"}) == "plain"
    assert env.env_str("SECRET_KEY", "d", env={"SECRET_KEY_FILE": ""}) == "d"
    secret.write_text("\n")
    with pytest.raises(ImproperlyConfigured, match=r"SECRET_KEY_FILE: .* is empty"):
        env.env_str("SECRET_KEY", env=layout)


def test_dotenv_fills_only_unset_variables(tmp_path: Path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nSPENDAPP_T1='quoted value'\nexport SPENDAPP_T2=2\n\n")
    monkeypatch.setenv("SPENDAPP_T2", "from-environment")
    monkeypatch.delenv("SPENDAPP_T1", raising=False)
    env.load_dotenv(dotenv)
    import os

    assert os.environ["SPENDAPP_T1"] == "quoted value"
    assert os.environ["SPENDAPP_T2"] == "from-environment"
    monkeypatch.delenv("SPENDAPP_T1")


def test_dotenv_rejects_a_line_without_equals(tmp_path: Path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("GOOD=1\nthis is not a setting\n")
    with pytest.raises(ImproperlyConfigured, match=r"\.env:2: expected KEY=value"):
        env.load_dotenv(dotenv)
