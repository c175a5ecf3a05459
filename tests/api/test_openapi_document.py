"""The committed docs/api/openapi.json is the schema the code generates (`make openapi`)."""

from pathlib import Path

from spendapp.api.management.commands.openapi_schema import schema_text

DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "api" / "openapi.json"


def test_the_committed_schema_is_up_to_date():
    assert DOCUMENT.read_text().strip() == schema_text().strip(), (
        "the API changed: run `make openapi` and commit docs/api/openapi.json"
    )


def test_the_schema_is_openapi_31_and_documents_errors_and_auth():
    import json

    doc = json.loads(schema_text())
    assert doc["openapi"] == "3.1.0"
    assert doc["components"]["securitySchemes"]["TokenAuth"]["scheme"] == "bearer"
    for path, methods in doc["paths"].items():
        for method, operation in methods.items():
            assert {"400", "401", "403", "429"} <= set(operation["responses"]), (path, method)
