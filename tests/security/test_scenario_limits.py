"""Finding 1 and the scenario inputs of finding 9: a scenario is bounded before any slow work.

Each limit gives a clear error naming the field (a 400 on the page, a CommandError from
`manage.py scenario`), never a 500 and never a stalled worker.
"""

from __future__ import annotations

import json
import re

import pytest
from django.core.management import CommandError, call_command

from forecasting import ScenarioError, validate_spec
from forecasting.scenario_spec import MAX_TRANSFORMS, parse_transforms

CUT = {"type": "fewer_calls", "reduction": 0.1}


def _spec(**overrides) -> dict:
    return {"name": "Plan", "transforms": [CUT], **overrides}


def test_more_than_twenty_transforms_are_refused_before_any_is_looked_at():
    garbage = [{"type": "nonsense"}] * 1000
    with pytest.raises(ScenarioError, match=r"^transforms: at most 20, got 1000"):
        validate_spec(_spec(transforms=garbage))


def test_twenty_transforms_are_still_fine():
    assert len(validate_spec(_spec(transforms=[CUT] * MAX_TRANSFORMS))["transforms"]) == 20


@pytest.mark.parametrize(
    ("transform", "field"),
    [
        ({"type": "growth", "factor": 1e308}, "transforms[0].factor"),
        ({"type": "growth", "factor": 1e300}, "transforms[0].factor"),
        ({"type": "growth", "monthly": 10**400}, "transforms[0].monthly"),
        ({"type": "price_change", "model": "m", "prices": {"input": 1e300}}, "prices.input"),
        ({"type": "price_change", "model": "m", "monthly_change": 1e9}, "monthly_change"),
        (
            {"type": "route", "small": "a", "frontier": "b", "share": 0.5, "token_ratio": 1e308},
            "token_ratio",
        ),
        ({"type": "fewer_calls", "reduction": 0.1, "months": 1e308}, "transforms[0].months"),
        ({"type": "fewer_calls", "reduction": float("nan")}, "transforms[0].reduction"),
        ({"type": "growth", "factor": float("inf")}, "transforms[0].factor"),
    ],
)
def test_every_number_is_range_checked(transform, field):
    with pytest.raises(ScenarioError, match=re.escape(field)):
        validate_spec(_spec(transforms=[transform]))


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_json_constants_that_are_not_numbers_are_refused(constant):
    with pytest.raises(ScenarioError, match=rf"^transforms: {constant} is not a number"):
        parse_transforms(f'[{{"type": "growth", "factor": {constant}}}]')


def test_deeply_nested_json_is_refused_without_recursing():
    with pytest.raises(ScenarioError, match=r"^transforms: nested more than \d+ levels deep"):
        parse_transforms("[" * 10_000 + "]" * 10_000)


def test_more_than_64_kb_of_json_is_refused_before_parsing():
    with pytest.raises(ScenarioError, match=r"^transforms: at most 64 KB"):
        parse_transforms(json.dumps([CUT] * 3000))


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (_spec(name="x" * 201), r"^name: at most 200 characters"),
        (_spec(name="bad\x00name"), r"^name: must not contain NUL"),
        (_spec(description="n" * 2001), r"^description: at most 2000 characters"),
        (_spec(description="\x00"), r"^description: must not contain NUL"),
        (
            _spec(
                transforms=[{"type": "shift", "from": {"model": "a\x00"}, "to": "b", "share": 1}]
            ),
            r"^transforms\[0\].from.model: must not contain NUL",
        ),
        (_spec(transforms=[{**CUT, "start": "9999-12-31"}]), r"^transforms\[0\].start: must be"),
        (_spec(transforms=[{**CUT, "start": "0001-01-01"}]), r"^transforms\[0\].start: must be"),
    ],
)
def test_names_notes_and_dates_are_validated(spec, message):
    with pytest.raises(ScenarioError, match=message):
        validate_spec(spec)


@pytest.fixture
def engineer(client, erin):
    client.force_login(erin)
    return client


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"transforms": json.dumps([CUT] * 1000)}, "transforms: at most 20"),
        ({"transforms": "[" * 5000 + "]" * 5000}, "transforms: nested more than"),
        ({"transforms": '[{"type": "growth", "factor": 1e300}]'}, "transforms[0].factor"),
        ({"transforms": "[]", "name": "x" * 201}, "name: at most 200 characters"),
        ({"transforms": "[]", "name": "a\x00b"}, "name: must not contain"),
        ({"transforms": "[]", "notes": "a\x00b"}, "notes: must not contain"),
    ],
)
@pytest.mark.parametrize("url", ["/scenarios/", "/scenarios/save/"])
def test_the_scenario_forms_answer_400_naming_the_field(engineer, url, form, field):
    response = engineer.post(url, {"name": "Plan", **form})
    assert response.status_code == 400
    assert field in response.content.decode()


def test_a_request_body_over_the_limit_is_refused_without_parsing_it(engineer):
    response = engineer.post("/scenarios/save/", {"name": "Plan", "transforms": "x" * 100_000})
    assert response.status_code == 400
    assert "request: at most" in response.content.decode()


def test_manage_py_scenario_applies_the_same_limits(tmp_path):
    path = tmp_path / "spec.json"
    path.write_text(json.dumps(_spec(transforms=[CUT] * 21)))
    with pytest.raises(CommandError, match=r"^spec: transforms: at most 20, got 21"):
        call_command("scenario", "--spec", str(path))
