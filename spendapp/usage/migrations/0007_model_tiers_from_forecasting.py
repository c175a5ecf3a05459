"""Model tiers move from the forecasting app to usage, with pricing (their one home).

State-only for the models (the rows stay), then the tables take usage's names. The forecasting
side drops the models from its state in forecasting.0004, which depends on this migration.
"""

from django.db import migrations, models

TIER_CHOICES = [("small", "Small"), ("mid", "Mid"), ("frontier", "Frontier")]


class Migration(migrations.Migration):
    dependencies = [
        ("usage", "0006_usagebucket_key_by_time_without_time_index"),
        ("forecasting", "0003_nightly_schedule"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="ModelTier",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("name", models.CharField(choices=TIER_CHOICES, max_length=20, unique=True)),
                        ("max_blended_per_mtok", models.DecimalField(blank=True, decimal_places=6, help_text="Upper bound (exclusive) of the blended price, $ per million tokens, blended as 3 input : 1 output. Empty = no upper bound.", max_digits=14, null=True)),
                        ("note", models.CharField(blank=True, max_length=300)),
                    ],
                    options={
                        "ordering": [models.OrderBy(models.F("max_blended_per_mtok"), nulls_last=True)],
                        "db_table": "forecasting_modeltier",
                    },
                ),
                migrations.CreateModel(
                    name="ModelTierOverride",
                    fields=[
                        ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                        ("provider", models.CharField(max_length=32)),
                        ("model_pattern", models.CharField(help_text="Model name, or a glob such as gpt-5.4-mini* (case-insensitive).", max_length=200)),
                        ("tier", models.CharField(choices=TIER_CHOICES, max_length=20)),
                        ("note", models.CharField(blank=True, max_length=300)),
                    ],
                    options={
                        "ordering": ["provider", "model_pattern"],
                        "db_table": "forecasting_modeltieroverride",
                    },
                ),
            ],
        ),
        migrations.AlterModelTable(name="modeltier", table=None),
        migrations.AlterModelTable(name="modeltieroverride", table=None),
    ]
