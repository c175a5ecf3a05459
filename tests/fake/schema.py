"""A small JSON-schema checker for the subset OpenAI's OpenAPI extract uses.

Supports $ref, type (with OpenAPI's ``integer`` excluding booleans), enum, required,
properties, items, anyOf and oneOf (exactly one branch must match). ``jsonschema`` is not a
project dependency, so the fake's contract tests use this.
"""

from __future__ import annotations

import json
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
OPENAPI_PATH = FIXTURES / "provider-examples" / "openai" / "openapi-usage-costs.json"


def load_openapi() -> dict:
    return json.loads(OPENAPI_PATH.read_text())


class Validator:
    def __init__(self, doc: dict):
        self.doc = doc

    def resolve(self, schema: dict) -> dict:
        while "$ref" in schema:
            node = self.doc
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part]
            schema = node
        return schema

    def errors(self, value, schema: dict, path: str = "$") -> list[str]:
        schema = self.resolve(schema)
        errs: list[str] = []
        if "anyOf" in schema and all(self.errors(value, s, path) for s in schema["anyOf"]):
            errs.append(f"{path}: matches no anyOf branch")
        if "oneOf" in schema:
            ok = [s for s in schema["oneOf"] if not self.errors(value, s, path)]
            if len(ok) != 1:
                errs.append(f"{path}: matches {len(ok)} oneOf branches, expected 1")
        t = schema.get("type")
        if t is not None and not _type_ok(value, t):
            return [*errs, f"{path}: expected {t}, got {type(value).__name__} {value!r:.60}"]
        if "enum" in schema and value not in schema["enum"]:
            errs.append(f"{path}: {value!r} not in {schema['enum']}")
        if isinstance(value, dict):
            for name in schema.get("required", []):
                if name not in value:
                    errs.append(f"{path}: missing required {name!r}")
            for name, sub in schema.get("properties", {}).items():
                if name in value:
                    errs.extend(self.errors(value[name], sub, f"{path}.{name}"))
        if isinstance(value, list) and "items" in schema:
            for i, item in enumerate(value):
                errs.extend(self.errors(item, schema["items"], f"{path}[{i}]"))
        return errs

    def response_schema(self, path: str, status: str = "200") -> dict:
        op = self.doc["paths"][path]["get"]
        resp = self.resolve(op["responses"][status])
        return resp["content"]["application/json"]["schema"]


def _type_ok(value, t: str) -> bool:
    if t == "object":
        return isinstance(value, dict)
    if t == "array":
        return isinstance(value, list)
    if t == "string":
        return isinstance(value, str)
    if t == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if t == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if t == "boolean":
        return isinstance(value, bool)
    if t == "null":
        return value is None
    return True
