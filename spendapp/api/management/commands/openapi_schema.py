"""`manage.py openapi_schema`: print the API's OpenAPI 3.1 document (`make openapi` writes it
to docs/api/openapi.json; a test fails while the committed copy is out of date)."""

import json

from django.core.management.base import BaseCommand


def schema_text() -> str:
    from spendapp.api.urls import api

    return json.dumps(api.get_openapi_schema(path_prefix="/api/v1/"), indent=1, sort_keys=True)


class Command(BaseCommand):
    help = "Print the OpenAPI document of /api/v1/ (JSON)."

    def handle(self, *args, **options):
        self.stdout.write(schema_text())
