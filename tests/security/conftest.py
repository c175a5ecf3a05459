"""Security tests reuse the dashboard's small deterministic spend history."""

from tests.dashboard.conftest import (  # noqa: F401
    accounts,
    frozen_now,
    scenario_baseline,
    spend_data,
)
