"""Provider accounts in the admin: the key is write-only and shown masked, never again."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from spendapp.providers.connectors import CONNECTORS
from spendapp.providers.errors import ProviderError
from spendapp.providers.models import ProviderAccount, ProviderEntity
from spendapp.providers.service import open_connector
from spendapp.providers.signals import request_sync


class ProviderAccountForm(forms.ModelForm):
    base_url = forms.URLField(
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text=ProviderAccount._meta.get_field("base_url").help_text,
        widget=forms.URLInput(attrs={"class": "vURLField wide-url"}),
    )
    api_key = forms.CharField(
        label="Admin API key",
        required=False,
        strip=True,
        # render_value=False: the stored key never travels back to the browser.
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Write-only. Leave empty to keep the current key. OpenAI: an Admin key "
        "(sk-admin-…); Anthropic: an Admin key (sk-ant-admin01-…); AWS Bedrock: "
        '{"access_key_id": "AKIA…", "secret_access_key": "…"}; Azure OpenAI: the app '
        "registration's client secret.",
    )

    class Meta:
        model = ProviderAccount
        fields = ["provider", "name", "base_url", "api_key", "settings", "enabled", "backfill_days"]

    def clean(self):
        cleaned = super().clean()
        if not self.instance.pk and not cleaned.get("api_key"):
            self.add_error("api_key", "A new account needs its admin API key.")
        self._check_provider_settings(cleaned)
        moved = {"base_url", "provider"} & set(self.changed_data)
        if (
            self.instance.pk
            and moved
            and self.instance.encrypted_key
            and not cleaned.get("api_key")
        ):
            # The stored key was given for the old host: never send it to a new one.
            self.add_error(
                "api_key",
                "Changing the base URL or provider needs the admin API key again "
                "(the stored key is never sent to a new host).",
            )
        return cleaned

    def clean_settings(self):
        settings = self.cleaned_data.get("settings")
        if settings is None:
            return {}
        if not isinstance(settings, dict):
            raise forms.ValidationError('Expected a JSON object, e.g. {"bucket": "…"}.')
        return settings

    def _check_provider_settings(self, cleaned) -> None:
        """Connectors that need settings (Bedrock, Azure OpenAI) validate them and the shape of
        the key; the message names the setting, never the key's value."""
        connector = CONNECTORS.get(cleaned.get("provider") or "")
        check = getattr(connector, "check_account", None)
        if check is None:
            return
        try:
            check(cleaned.get("settings") or {}, cleaned.get("api_key") or None)
        except ValueError as exc:
            field = getattr(exc, "field", "settings")
            self.add_error(field if field in self.fields else None, str(exc))

    def save(self, commit=True):
        account = super().save(commit=False)
        if self.cleaned_data.get("api_key"):
            account.set_key(self.cleaned_data["api_key"])
        if commit:
            account.save()
        return account


@admin.register(ProviderAccount)
class ProviderAccountAdmin(admin.ModelAdmin):
    form = ProviderAccountForm
    list_display = ["name", "provider", "enabled", "status", "last_success_at", "key_hint"]
    list_filter = ["provider", "enabled", "status"]
    readonly_fields = [
        "key_hint",
        "status",
        "status_message",
        "last_sync_at",
        "last_success_at",
        "key_changed_at",
        "recent_runs",
    ]
    actions = ["test_connection", "sync_now"]
    change_form_template = "admin/providers/provideraccount/change_form.html"

    # --- the same two actions as buttons on an account's own page ---------------------------

    def get_urls(self):
        buttons = [
            path(
                "<int:pk>/test-connection/",
                self.admin_site.admin_view(self._run_on_one(self.test_connection)),
                name="providers_provideraccount_test_connection",
            ),
            path(
                "<int:pk>/sync-now/",
                self.admin_site.admin_view(self._run_on_one(self.sync_now)),
                name="providers_provideraccount_sync_now",
            ),
        ]
        return buttons + super().get_urls()

    def _run_on_one(self, action):
        """A POST view running ``action`` on one account, back to its page with the result in
        the messages. Changing the account's state (a sync, a status) needs change permission."""

        @require_POST
        def view(request, pk: int):
            account = get_object_or_404(ProviderAccount, pk=pk)
            if not self.has_change_permission(request, account):
                raise PermissionDenied
            action(request, ProviderAccount.objects.filter(pk=account.pk))
            return redirect("admin:providers_provideraccount_change", account.pk)

        return view

    @admin.display(description="Recent syncs")
    def recent_runs(self, account):
        if not account.pk:
            return "-"
        url = reverse("admin:usage_syncrun_changelist") + f"?account__id__exact={account.pk}"
        return format_html('<a href="{}">Sync runs of this account</a>', url)

    # Both actions use the stored key: they need the change permission, not just view.
    @admin.action(description="Test connection (one small real call)", permissions=["change"])
    def test_connection(self, request, queryset):
        for account in queryset:
            try:
                with open_connector(account) as conn:
                    message = conn.test_connection()
            except ProviderError as exc:
                self.message_user(request, f"{account.name}: {exc}", messages.ERROR)
            except Exception as exc:  # e.g. a key that no configured Fernet key decrypts
                self.message_user(request, f"{account.name}: {exc}", messages.ERROR)
            else:
                self.message_user(request, f"{account.name}: {message}", messages.SUCCESS)

    @admin.action(description="Sync now", permissions=["change"])
    def sync_now(self, request, queryset):
        url = reverse("admin:usage_syncrun_changelist")
        for account in queryset:
            if not request_sync(account.pk, trigger="admin"):
                self.message_user(request, f"{account.name}: no sync service", messages.ERROR)
                continue
            self.message_user(
                request,
                format_html(
                    '{}: sync queued; follow it in <a href="{}?account__id__exact={}">sync '
                    "runs</a>.",
                    account.name,
                    url,
                    account.pk,
                ),
                messages.SUCCESS,
            )


@admin.register(ProviderEntity)
class ProviderEntityAdmin(admin.ModelAdmin):
    list_display = ["account", "kind", "external_id", "name", "parent_id"]
    list_filter = ["account", "kind"]
    search_fields = ["external_id", "name"]
