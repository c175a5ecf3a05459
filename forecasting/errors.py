"""Exceptions raised by the forecasting core."""

from __future__ import annotations


class ForecastError(ValueError):
    """Invalid input or a series that cannot be forecast.

    The message names the offending parameter, e.g. ``"y: needs at least 7 observations"``.
    """


class ScenarioError(ForecastError):
    """Invalid scenario spec; the message names the field, e.g. ``transforms[1].share``."""
