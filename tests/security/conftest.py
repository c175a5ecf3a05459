"""Security tests reuse the dashboard's small deterministic spend history."""

from tests.dashboard.conftest import accounts, frozen_now, spend_data  # noqa: F401
