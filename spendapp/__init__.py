"""Spendapp: self-hosted AI spend analytics and forecasting."""

from spendapp.celery import app as celery_app

__all__ = ("celery_app",)
