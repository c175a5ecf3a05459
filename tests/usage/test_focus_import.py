"""FOCUS CSV import on real PostgreSQL: all rows or none, exact Decimal totals, idempotent."""

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from django.contrib import admin
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.db.models import Sum
from django.urls import path, reverse

from spendapp.providers.models import ProviderAccount, ProviderEntity
from spendapp.usage.admin_import import ImportCostsAdminMixin
from spendapp.usage.focus_import import FocusImportError, import_focus_csv
from spendapp.usage.models import CostLineItem, DailySpend, SyncRun

pytestmark = pytest.mark.django_db

COLUMNS = [
    "BilledCost",
    "EffectiveCost",
    "BillingCurrency",
    "ChargePeriodStart",
    "ChargePeriodEnd",
    "ProviderName",
    "ServiceName",
    "SubAccountId",
    "SubAccountName",
    "ResourceId",
    "SkuId",
    "ChargeDescription",
    "ConsumedQuantity",
    "ConsumedUnit",
    "ChargeCategory",
    "Tags",
    "x_CustomColumn",  # extra columns are ignored
]


def _row(cost="1.25", start="2026-03-02T00:00:00Z", end="2026-03-03T00:00:00Z", **kw):
    row = {
        "BilledCost": cost,
        "EffectiveCost": "",
        "BillingCurrency": "USD",
        "ChargePeriodStart": start,
        "ChargePeriodEnd": end,
        "ProviderName": "Google Cloud",
        "ServiceName": "Vertex AI",
        "SubAccountId": "proj-1",
        "SubAccountName": "Search",
        "ResourceId": "",
        "SkuId": "gemini-2.5-pro:input",
        "ChargeDescription": "Gemini 2.5 Pro input",
        "ConsumedQuantity": "1000000",
        "ConsumedUnit": "Tokens",
        "ChargeCategory": "Usage",
        "Tags": '{"team": "search", "env": "prod"}',
        "x_CustomColumn": "anything, at all",
    }
    row.update(kw)
    return row


def _csv(rows, columns=COLUMNS, bom=False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="ignore", lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def _output(**kw):
    return _row(SkuId="gemini-2.5-pro:output", ChargeDescription="Gemini 2.5 Pro output", **kw)


GOOD_ROWS = [
    _row(),  # 2026-03-02, input: 1.25
    # Two hourly rows identical in every dimension on the same day: summed into one line.
    _output(cost="0.50", start="2026-03-02T05:00:00Z", end="2026-03-02T06:00:00Z",
            ConsumedQuantity="100"),
    _output(cost="0.25", start="2026-03-02T06:00:00Z", end="2026-03-02T07:00:00Z",
            ConsumedQuantity="50"),
    # Plain dates.
    _output(cost="3.10", start="2026-03-03", end="2026-03-04", ConsumedQuantity="620000"),
    _row(cost="-0.40", start="2026-03-03", end="2026-03-04", SkuId="", ChargeCategory="Credit",
         ChargeDescription="Promotional credit", ConsumedQuantity="", ConsumedUnit="", Tags=""),
    # After a gap day: a second write window.
    _row(cost="2.000000000001", start="2026-03-05T00:00:00Z", end="2026-03-06T00:00:00Z"),
]  # fmt: skip
GOOD_ROWS = [{**row, "EffectiveCost": row["BilledCost"]} for row in GOOD_ROWS]


@pytest.fixture(autouse=True)
def _usd(settings):
    settings.ORG_CURRENCY = "USD"


def _billed_by_day():
    rows = DailySpend.objects.filter(account__name="Google Cloud").values("day")
    return {row["day"]: row["billed"] for row in rows.annotate(billed=Sum("billed_cost"))}


def _snapshot():
    return sorted(
        (
            r.bucket_start,
            r.bucket_end,
            r.project_id,
            r.line_item,
            r.model,
            r.token_type,
            r.cost_type,
            r.amount,
            r.quantity,
            r.quantity_unit,
            r.updated_at,
        )
        for r in CostLineItem.objects.all()
    )


def test_a_good_file_is_imported_with_exact_totals_in_the_rollup():
    result = import_focus_csv(_csv(GOOD_ROWS))

    assert (result.rows, result.line_items, result.inserted) == (6, 5, 5)
    assert (result.updated, result.deleted) == (0, 0)
    assert result.accounts == result.accounts_created == ["Google Cloud"]
    assert (result.date_from, result.date_to, result.days) == (
        date(2026, 3, 2),
        date(2026, 3, 5),
        3,
    )
    assert result.billed_total == Decimal("6.700000000001")
    assert result.effective_total == Decimal("6.700000000001")
    account = ProviderAccount.objects.get(name="Google Cloud")
    assert account.provider == "focus"
    assert _billed_by_day() == {
        date(2026, 3, 2): Decimal("2.000000000000"),
        date(2026, 3, 3): Decimal("2.700000000000"),
        date(2026, 3, 5): Decimal("2.000000000001"),
    }
    summed = CostLineItem.objects.get(token_type="output", bucket_start__day=2)
    assert summed.amount == Decimal("0.75")
    assert summed.quantity == Decimal(150)
    assert summed.quantity_unit == "Tokens"
    assert summed.endpoint == "focus.csv"
    assert summed.bucket_start == datetime(2026, 3, 2, tzinfo=UTC)
    assert summed.bucket_end == datetime(2026, 3, 3, tzinfo=UTC)
    assert (summed.model, summed.project_id, summed.cost_type, summed.currency) == (
        "gemini-2.5-pro",
        "proj-1",
        "usage",
        "USD",
    )
    assert summed.line_item == "Vertex AI: Gemini 2.5 Pro output"
    credit = CostLineItem.objects.get(cost_type="credit")
    assert (credit.amount, credit.model, credit.token_type, credit.quantity) == (
        Decimal("-0.4"),
        "",
        "",
        None,
    )
    assert ProviderEntity.objects.get(account=account, kind="project").name == "Search"
    run = SyncRun.objects.get(account=account)
    assert (run.trigger, run.outcome, run.windows, run.rows_inserted) == ("import", "success", 2, 5)


def test_reimporting_the_same_file_changes_nothing():
    import_focus_csv(_csv(GOOD_ROWS))
    before, rollup = _snapshot(), _billed_by_day()

    again = import_focus_csv(_csv(GOOD_ROWS))

    assert (again.inserted, again.updated, again.deleted) == (0, 0, 0)
    assert again.unchanged and again.accounts_created == []
    assert _snapshot() == before  # updated_at included: no row was rewritten
    assert _billed_by_day() == rollup
    assert ProviderAccount.objects.count() == 1


def test_a_corrected_export_replaces_the_days_it_covers_and_leaves_other_days_alone():
    import_focus_csv(_csv(GOOD_ROWS))
    corrected = [_row(cost="1.30"), _output(cost="0.70", start="2026-03-02T05:00:00Z",
                                            end="2026-03-02T06:00:00Z")]  # fmt: skip

    result = import_focus_csv(_csv(corrected))

    assert (result.inserted, result.updated, result.deleted) == (0, 2, 0)
    billed = _billed_by_day()
    assert billed[date(2026, 3, 2)] == Decimal("2.00")
    assert billed[date(2026, 3, 3)] == Decimal("2.70")  # not in the corrected file: untouched
    dropped = import_focus_csv(_csv([_row(cost="1.30")]))
    assert dropped.deleted == 1  # the output line is no longer in the export of that day
    assert _billed_by_day()[date(2026, 3, 2)] == Decimal("1.30")


def test_bad_rows_abort_the_whole_import_and_each_is_reported_with_its_line():
    import_focus_csv(_csv([_row(start="2026-02-01", end="2026-02-02")]))
    before = _snapshot()
    rows = [
        _row(),  # line 2: good, but must not be imported either
        _row(cost="abc"),  # line 3
        _row(start="2026-13-01"),  # line 4
        _row(start="2026-03-02T00:00:00Z", end="2026-03-01T00:00:00Z"),  # line 5
        _row(BillingCurrency="EUR"),  # line 6
        _row(ProviderName=""),  # line 7
        _row(BilledCost=" ", ChargePeriodEnd="soon"),  # line 8: two problems, both reported
    ]

    with pytest.raises(FocusImportError) as caught:
        import_focus_csv(_csv(rows))

    assert caught.value.errors == [
        "line 3: BilledCost: 'abc' is not a number",
        "line 4: ChargePeriodStart: '2026-13-01' is not a valid date "
        "(expected YYYY-MM-DDTHH:mm:ssZ or YYYY-MM-DD)",
        "line 5: ChargePeriodEnd: 2026-03-01T00:00:00Z is not after ChargePeriodStart "
        "2026-03-02T00:00:00Z",
        "line 6: BillingCurrency: EUR differs from the organisation currency USD "
        "(ORG_CURRENCY); amounts are added up without conversion, so convert the export first",
        "line 7: ProviderName: a value is required",
        "line 8: BilledCost: a value is required",
        "line 8: ChargePeriodEnd: 'soon' is not a date/time "
        "(expected YYYY-MM-DDTHH:mm:ssZ or YYYY-MM-DD)",
    ]
    assert caught.value.total == 7
    assert _snapshot() == before
    assert not DailySpend.objects.filter(day=date(2026, 3, 2)).exists()
    assert SyncRun.objects.count() == 1


def test_line_numbers_count_physical_lines_of_quoted_multiline_fields():
    rows = [_row(ChargeDescription="two\nlines"), _row(cost="1,5")]
    with pytest.raises(FocusImportError) as caught:
        import_focus_csv(_csv(rows))
    assert caught.value.errors == ["line 4: BilledCost: '1,5' is not a number"]


@pytest.mark.parametrize(
    "value, message",
    [
        ("NaN", "'NaN' is not a number"),
        ("1e400", "'1e400' is too large"),
        ("1000000000000", "'1000000000000' is too large"),
    ],
)
def test_numbers_that_cannot_be_stored_are_row_errors(value, message):
    with pytest.raises(FocusImportError) as caught:
        import_focus_csv(_csv([_row(cost=value)]))
    assert caught.value.errors == [f"line 2: BilledCost: {message}"]


def test_a_missing_required_column_is_one_error_naming_it():
    columns = [c for c in COLUMNS if c != "BillingCurrency"]
    with pytest.raises(FocusImportError) as caught:
        import_focus_csv(_csv(GOOD_ROWS, columns))
    assert caught.value.errors == ["missing required column BillingCurrency in the header row"]
    assert not ProviderAccount.objects.exists()


def test_only_required_columns_and_unknown_extras_are_enough():
    columns = ["x_Region", *COLUMNS[:6], "SomeFutureFocusColumn"]
    result = import_focus_csv(_csv([_row(EffectiveCost="1.25")], columns))
    line = CostLineItem.objects.get()
    assert (line.amount, line.line_item, line.model, line.project_id) == (
        Decimal("1.25"),
        "",
        "",
        "",
    )
    assert result.effective_total == Decimal("1.25")


def test_a_utf8_byte_order_mark_and_lower_case_headers_are_handled():
    data = _csv([_row(ServiceName="Vertex AI Zürich")], bom=True)
    data = data.replace(b"BilledCost", b"billedcost", 1)
    import_focus_csv(data)
    assert CostLineItem.objects.get().line_item == "Vertex AI Zürich: Gemini 2.5 Pro input"


def test_a_file_that_is_not_utf8_is_one_clear_error():
    data = _csv([_row(ServiceName="Vertex AI Zürich")]).decode().encode("cp1252")
    with pytest.raises(FocusImportError) as caught:
        import_focus_csv(data)
    assert caught.value.errors[0].startswith("the file is not UTF-8 text")


def test_a_row_with_a_field_too_many_is_reported():
    data = _csv([_row()]) + b"1,2,3\r\n"
    with pytest.raises(FocusImportError) as caught:
        import_focus_csv(data)
    assert caught.value.errors == [
        "line 3: has 3 fields but the header has 17 (a comma or quote out of place?)"
    ]


def test_the_account_option_and_one_account_per_provider_name():
    rows = [_row(), _row(ProviderName="Microsoft", SubAccountId="sub-9")]
    result = import_focus_csv(_csv(rows))
    assert result.accounts == ["Google Cloud", "Microsoft"]

    named = import_focus_csv(_csv(rows), account_name="Cloud exports")
    assert named.accounts == ["Cloud exports"]
    assert CostLineItem.objects.filter(account__name="Cloud exports").count() == 2


def test_an_api_synced_account_name_is_refused():
    account = ProviderAccount(name="OpenAI", provider="openai")
    account.set_key("sk-admin-test-key-0000")
    account.save()
    with pytest.raises(FocusImportError, match="is a OpenAI account synced from its API"):
        import_focus_csv(_csv([_row()]), account_name="OpenAI")
    assert not CostLineItem.objects.exists()


def test_a_dry_run_validates_and_counts_but_saves_nothing():
    result = import_focus_csv(_csv(GOOD_ROWS), dry_run=True)
    assert (result.inserted, result.dry_run) == (5, True)
    assert not ProviderAccount.objects.exists()
    assert not CostLineItem.objects.exists()


# -- the management command ---------------------------------------------------------------------


def test_the_command_imports_a_file(tmp_path):
    path_ = tmp_path / "focus.csv"
    path_.write_bytes(_csv(GOOD_ROWS))
    out = io.StringIO()
    call_command("import_costs", str(path_), "--account", "GCP", stdout=out)
    assert "imported 6 rows as 5 daily line items into GCP" in out.getvalue()
    days = DailySpend.objects.filter(account__name="GCP").values_list("day", flat=True)
    assert len(set(days)) == 3


def test_the_command_prints_every_bad_line_and_fails(tmp_path):
    path_ = tmp_path / "focus.csv"
    path_.write_bytes(_csv([_row(cost="abc"), _row(BillingCurrency="dollars")]))
    err = io.StringIO()
    with pytest.raises(CommandError, match="nothing imported: 2 errors"):
        call_command("import_costs", str(path_), stderr=err)
    assert err.getvalue().splitlines() == [
        "line 2: BilledCost: 'abc' is not a number",
        "line 3: BillingCurrency: 'DOLLARS' is not a 3-letter ISO 4217 code",
    ]
    assert not CostLineItem.objects.exists()


def test_the_command_reads_standard_input(monkeypatch):
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(_csv([_row()]))))
    out = io.StringIO()
    call_command("import_costs", "-", stdout=out)
    assert "imported 1 rows as 1 daily line items into Google Cloud" in out.getvalue()


def test_a_column_given_twice_is_refused():
    with pytest.raises(FocusImportError) as caught:
        import_focus_csv(_csv([_row()], [*COLUMNS, "billedcost"]))
    assert caught.value.errors == ["line 1: column BilledCost appears twice (columns 1 and 18)"]


# -- the admin page, wired as the lead will wire it ---------------------------------------------


class _SyncRunAdmin(ImportCostsAdminMixin, admin.ModelAdmin):
    pass


_site = admin.AdminSite(name="importtest")
_site.register(SyncRun, _SyncRunAdmin)
urlpatterns = [path("importtest/", _site.urls), path("admin/", admin.site.urls)]


@pytest.fixture
def import_url():
    return reverse("importtest:usage_import_costs")


@pytest.mark.urls(__name__)
def test_the_admin_page_imports_an_upload(admin_client_, import_url):
    assert import_url == "/importtest/usage/syncrun/import-costs/"
    assert admin_client_.get(import_url).status_code == 200
    upload = SimpleUploadedFile("export.csv", _csv(GOOD_ROWS), content_type="text/csv")
    response = admin_client_.post(import_url, {"file": upload, "account": "GCP"})
    assert response.status_code == 200
    page = response.content.decode()
    assert "6 rows as 5 daily line items into\n    GCP" in page
    assert "5 inserted, 0 updated, 0 deleted" in page
    assert CostLineItem.objects.filter(account__name="GCP").count() == 5
    changelist = admin_client_.get(reverse("importtest:usage_syncrun_changelist"))
    assert changelist.context["import_costs_url"] == import_url


@pytest.mark.urls(__name__)
def test_the_admin_page_shows_every_bad_line(admin_client_, import_url):
    upload = SimpleUploadedFile("export.csv", _csv([_row(), _row(cost="abc")]))
    response = admin_client_.post(import_url, {"file": upload})
    assert response.status_code == 400
    page = response.content.decode()
    assert "Nothing was imported: 1 problem in the file" in page
    assert "line 3: BilledCost: &#x27;abc&#x27; is not a number" in page
    assert not CostLineItem.objects.exists()


@pytest.mark.urls(__name__)
def test_the_admin_page_is_staff_only(client, erin, import_url):
    client.force_login(erin)
    upload = SimpleUploadedFile("export.csv", _csv([_row()]))
    response = client.post(import_url, {"file": upload})
    assert response.status_code == 302
    assert "/login/" in response["Location"]
    assert not CostLineItem.objects.exists()


def test_an_import_is_allocated_at_once_and_queues_a_budget_evaluation(
    django_capture_on_commit_callbacks,
):
    """As a sync does: teams' shares in the same transaction, budgets evaluated on commit."""
    from spendapp.allocation.models import AllocatedSpend, AllocationRule, Team
    from spendapp.budgets.receivers import queue_evaluation

    search = Team.objects.create(name="Search")
    AllocationRule.objects.create(
        dimension="project", value="proj-1", team=search, valid_from=date(2026, 1, 1)
    )
    with django_capture_on_commit_callbacks() as callbacks:
        result = import_focus_csv(_csv(GOOD_ROWS))
    team_total = AllocatedSpend.objects.filter(team=search).aggregate(s=Sum("billed_cost"))["s"]
    project_total = DailySpend.objects.filter(project_id="proj-1").aggregate(s=Sum("billed_cost"))[
        "s"
    ]
    assert team_total == project_total > 0
    assert team_total <= result.billed_total
    assert queue_evaluation in callbacks


def test_budget_evaluations_queued_by_one_sync_are_one(monkeypatch):
    """Each window of a sync announces its spend; budgets queue one evaluation for them all."""
    from django.core.cache import cache

    from spendapp.budgets import receivers, tasks

    queued = []
    # The broker boundary: record instead of publishing to the shared filesystem broker.
    monkeypatch.setattr(tasks.evaluate_budgets, "apply_async", lambda **kw: queued.append(kw))
    cache.delete(receivers._QUEUED)
    assert receivers.queue_evaluation() is True
    assert receivers.queue_evaluation() is False
    assert receivers.queue_evaluation() is False
    assert len(queued) == 1 and queued[0]["countdown"] == receivers.EVALUATE_DELAY
    cache.delete(receivers._QUEUED)
