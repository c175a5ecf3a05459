"""Model tiers now live in usage (usage.0007 took over their rows and tables)."""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("forecasting", "0003_nightly_schedule"),
        ("usage", "0007_model_tiers_from_forecasting"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.DeleteModel(name="ModelTierOverride"),
                migrations.DeleteModel(name="ModelTier"),
            ],
        ),
    ]
