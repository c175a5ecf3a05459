"""`manage.py calibrate`: recompute every calibration ratio (`spendapp.usage.calibration`).

Syncs and imports keep the ratios current for the days they change; run this once after
upgrading to a version that has them, or to repair.
"""

from django.core.management.base import BaseCommand

from spendapp.usage.calibration import rebuild


class Command(BaseCommand):
    help = "Recompute the calibrated-estimate ratios of every provider account."

    def handle(self, *args, **options):
        written = rebuild()
        self.stdout.write(f"calibration ratios: {written} account x model x day rows")
