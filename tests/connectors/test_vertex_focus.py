"""Google Vertex AI / Gemini: the Cloud Billing FOCUS export (a BigQuery table, exported to CSV)
goes through the existing FOCUS import. The file is our example shaped as Google's export."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db.models import Sum

from spendapp.providers.models import ProviderAccount, ProviderEntity
from spendapp.usage.focus_import import import_focus_csv
from spendapp.usage.models import CostLineItem
from tests.connectors.conftest import EXAMPLES

pytestmark = pytest.mark.django_db
EXAMPLE = EXAMPLES / "vertex" / "gcp_focus_export_example.csv"


def test_googles_focus_export_imports_every_dollar_by_project():
    result = import_focus_csv(EXAMPLE.read_bytes())
    assert result.rows == 5 and result.accounts == ["Google Cloud"]
    assert result.billed_total == Decimal("4.498443")
    account = ProviderAccount.objects.get(name="Google Cloud")
    assert account.provider == "focus"
    lines = CostLineItem.objects.filter(account=account)
    by_project = {
        row["project_id"]: row["total"]
        for row in lines.values("project_id").annotate(total=Sum("amount"))
    }
    assert by_project == {
        "acme-ml-prod": Decimal("1.876543") + Decimal("2.5") + Decimal("0.0219"),
        "acme-assistants": Decimal("0.4") - Decimal("0.3"),
    }
    gemini = lines.get(line_item="Vertex AI: Gemini 2.5 Pro Input Text Tokens")
    assert gemini.quantity == Decimal("1501234.4")
    # Google's SKU ids are opaque: neither a model nor a token type is guessed from them.
    assert (gemini.model, gemini.token_type) == ("", "")
    assert lines.get(line_item="Gemini API: Free tier credit").cost_type == "credit"
    names = dict(
        ProviderEntity.objects.filter(account=account, kind="project").values_list(
            "external_id", "name"
        )
    )
    assert names == {"acme-ml-prod": "Acme ML prod", "acme-assistants": "Acme assistants"}


def test_importing_the_same_export_again_changes_nothing():
    import_focus_csv(EXAMPLE.read_bytes())
    again = import_focus_csv(EXAMPLE.read_bytes())
    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
