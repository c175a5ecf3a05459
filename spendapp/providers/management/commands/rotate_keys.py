"""`manage.py rotate_keys`: re-encrypt every stored provider key under the first FERNET_KEYS key."""

from auditlog.models import LogEntry
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from spendapp.providers import crypto
from spendapp.providers.models import ProviderAccount


class Command(BaseCommand):
    help = (
        "Re-encrypt provider API keys with the newest Fernet key. Put the new key first in "
        "FERNET_KEYS, keep the old ones, run this, then remove the old keys."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        rotated = 0
        # FOCUS accounts (and accounts whose key was cleared) store no key: nothing to rotate.
        for account in ProviderAccount.objects.select_for_update().exclude(encrypted_key=""):
            try:
                account.encrypted_key = crypto.rotate(account.encrypted_key)
            except crypto.KeyDecryptionError as exc:
                raise CommandError(f"{account.name}: {exc}; nothing was changed") from None
            account.save(update_fields=["encrypted_key"])
            # The audit log never records the key field; it records that a rotation happened.
            LogEntry.objects.log_create(
                account,
                force_log=True,
                action=LogEntry.Action.UPDATE,
                changes={"key": ["encrypted", "re-encrypted with the first FERNET_KEYS key"]},
            )
            rotated += 1
        self.stdout.write(f"Re-encrypted {rotated} provider key(s) with the first FERNET_KEYS key.")
