"""``manage.py fakeproviders``: a thin wrapper around ``spendapp.providers.fake.cli``."""

from __future__ import annotations

import argparse

from django.core.management.base import BaseCommand, CommandError

from spendapp.providers.fake.cli import DESCRIPTION, add_arguments, run, spec_help


class Command(BaseCommand):
    help = DESCRIPTION
    requires_system_checks = []
    requires_migrations_checks = False

    def create_parser(self, prog_name, subcommand, **kwargs):
        parser = super().create_parser(prog_name, subcommand, **kwargs)
        parser.epilog = spec_help()
        parser.formatter_class = argparse.RawDescriptionHelpFormatter
        return parser

    def add_arguments(self, parser):
        add_arguments(parser)

    def handle(self, *args, **options):
        code = run(options, out=self.stdout)
        if code:
            raise CommandError("invalid options", returncode=code)
