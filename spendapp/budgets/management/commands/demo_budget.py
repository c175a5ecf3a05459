"""`manage.py demo_budget` (run by `manage.py demo`): a monthly budget on the demo data whose
alerts go to the admin users and Finance, so a newcomer sees an alert email arrive (in
``var/mail/`` unless a mail server is set)."""

from decimal import Decimal

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand

from spendapp.budgets.models import Budget
from spendapp.core.roles import FINANCE

DEMO_BUDGET = "Demo: all AI spend, monthly"
# The fake organisation spends about $6-7k a month: by mid-month this crosses 50% and the
# forecast alert fires, so the first sync already produces alert emails.
DEMO_BUDGET_AMOUNT = Decimal(5000)


class Command(BaseCommand):
    help = "Create the demo budget (once) with the admin users and Finance as its recipients."

    def handle(self, *args, **options):
        # Created once: an admin who edits or deletes it is not overruled on the next start.
        if Budget.objects.filter(name=DEMO_BUDGET).exists():
            return
        budget = Budget.objects.create(
            name=DEMO_BUDGET, amount=DEMO_BUDGET_AMOUNT, thresholds=[50, 80, 100]
        )
        admins = get_user_model().objects.filter(is_superuser=True, is_active=True)
        admins = admins.exclude(email="")
        budget.notify_users.set(admins)
        budget.notify_groups.set(Group.objects.filter(name=FINANCE))
        emails = ", ".join(admins.values_list("email", flat=True)) or "nobody (no admin email)"
        self.stdout.write(f"Demo budget {DEMO_BUDGET!r}: alerts to {emails}")
