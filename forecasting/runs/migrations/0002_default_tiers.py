"""Default price bands of the model tiers (editable in the admin).

Blended price = (3 x input + 1 x output) / 4, $ per million tokens. Catalog prices today:
gpt-5.4-nano 0.46, deepseek-v4-flash 0.33, gpt-5.4-mini 1.69, claude-haiku-4-5 2.00,
glm-5.1 2.15 | gpt-5.4 5.63, claude-sonnet-4-6 6.00 | claude-opus-4-7 10.00, gpt-5.5 11.25.
The bounds sit in the gaps between the vendors' own lineups (small/mini/flash models,
workhorse models, flagships), so each model lands where its vendor positions it and a price
change of +-25% moves none of them across a bound.
"""

from decimal import Decimal

from django.db import migrations

BANDS = [
    ("small", Decimal("3"), "Mini / nano / flash class: blended under $3 per Mtok."),
    ("mid", Decimal("8"), "Workhorse models: blended $3 to $8 per Mtok."),
    ("frontier", None, "Flagship models: blended $8 per Mtok and above."),
]


def create_bands(apps, schema_editor):
    tier = apps.get_model("forecasting", "ModelTier")
    for name, bound, note in BANDS:
        tier.objects.get_or_create(name=name, defaults={"max_blended_per_mtok": bound, "note": note})


def remove_bands(apps, schema_editor):
    apps.get_model("forecasting", "ModelTier").objects.filter(
        name__in=[name for name, _, _ in BANDS]
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("forecasting", "0001_initial")]

    operations = [migrations.RunPython(create_bands, remove_bands)]
