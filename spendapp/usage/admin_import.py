"""Admin page to upload a FOCUS CSV file: the same import as ``manage.py import_costs``.

Staff with the "add cost line item" permission only. Wired into the SyncRun admin (imports
are logged there as runs with trigger "import") by ``ImportCostsAdminMixin``::

    class SyncRunAdmin(ImportCostsAdminMixin, admin.ModelAdmin): ...

which adds ``admin/usage/syncrun/import-costs/`` named ``admin:usage_import_costs``.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect

from spendapp.usage.focus_import import FocusImportError, import_focus_csv

URL_NAME = "usage_import_costs"
TEMPLATE = "admin/usage/import_costs.html"
# Larger exports: use `manage.py import_costs FILE`, which streams from disk without an upload.
MAX_UPLOAD_BYTES = 100 * 1024 * 1024
MAX_SHOWN_ERRORS = 200


class ImportCostsForm(forms.Form):
    file = forms.FileField(
        label="FOCUS CSV file",
        help_text="UTF-8 CSV with FOCUS column names. Required: BilledCost, ChargePeriodStart, "
        "ChargePeriodEnd, BillingCurrency, ProviderName.",
    )
    account = forms.CharField(
        label="Account name",
        required=False,
        max_length=100,
        help_text="FOCUS account to import into (created if missing). Empty: one account per "
        "ProviderName in the file.",
    )
    dry_run = forms.BooleanField(
        label="Validate only", required=False, help_text="Check the file and count; save nothing."
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(
                f"The file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB: import it "
                f"with `manage.py import_costs FILE` instead."
            )
        return upload


@staff_member_required
@csrf_protect
@never_cache
def import_costs_view(request, admin_site: admin.AdminSite | None = None):
    """GET: the upload form. POST: import, then show the per-line errors or the counts."""
    if not request.user.has_perm("usage.add_costlineitem"):
        # Staff alone only opens the admin; importing costs writes spend for everyone.
        raise PermissionDenied("Importing costs needs the “Can add cost line item” permission.")
    site = admin_site or admin.site
    result = None
    error = None
    if request.method == "POST":
        form = ImportCostsForm(request.POST, request.FILES)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                result = import_focus_csv(
                    upload,
                    form.cleaned_data["account"] or None,
                    dry_run=form.cleaned_data["dry_run"],
                )
            except FocusImportError as exc:
                error = exc
            finally:
                upload.close()
    else:
        form = ImportCostsForm()
    shown = error.errors[:MAX_SHOWN_ERRORS] if error else []
    context = {
        **site.each_context(request),
        "title": "Import costs from a FOCUS CSV file",
        "form": form,
        "result": result,
        "import_error": error,
        "errors_shown": shown,
        "errors_not_shown": (error.total - len(shown)) if error else 0,
    }
    status = 400 if error else 200
    return TemplateResponse(request, TEMPLATE, context, status=status)


class ImportCostsAdminMixin:
    """Adds the upload page to a ModelAdmin (meant for SyncRunAdmin) and its URL to the
    changelist context as ``import_costs_url``."""

    def get_urls(self):
        view = self.admin_site.admin_view(self._import_costs)
        return [path("import-costs/", view, name=URL_NAME), *super().get_urls()]

    def _import_costs(self, request):
        return import_costs_view(request, self.admin_site)

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "import_costs_url": reverse(f"{self.admin_site.name}:{URL_NAME}"),
        }
        return super().changelist_view(request, extra_context)
