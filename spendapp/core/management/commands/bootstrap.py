"""Create what a fresh install needs to be usable: the role groups and a first admin."""

import secrets

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction

from spendapp.core.roles import ROLE_GROUPS
from spendapp.env import env_str


class Command(BaseCommand):
    help = (
        "Create the Finance and Engineering groups and an admin user. The admin's name and "
        "password come from SPENDAPP_ADMIN_USER / SPENDAPP_ADMIN_PASSWORD; without a password "
        "one is generated and printed once, when the user is created."
    )

    @transaction.atomic
    def handle(self, *args, **options):
        for name in ROLE_GROUPS:
            Group.objects.get_or_create(name=name)
        username = env_str("SPENDAPP_ADMIN_USER", "admin")
        user_model = get_user_model()
        if user_model.objects.filter(username=username).exists():
            self.stdout.write(f"Admin user {username!r} already exists; password unchanged.")
            return
        password = env_str("SPENDAPP_ADMIN_PASSWORD") or secrets.token_urlsafe(12)
        user_model.objects.create_superuser(
            username=username,
            email=env_str("SPENDAPP_ADMIN_EMAIL", "admin@localhost"),
            password=password,
        )
        if env_str("SPENDAPP_ADMIN_PASSWORD"):
            self.stdout.write(f"Created admin user {username!r} (password from the environment).")
        else:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin user {username!r} with password {password!r} "
                    "(shown once: change it under Password after logging in)."
                )
            )
