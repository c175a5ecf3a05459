"""Forecasting tests are pure: no Django, no database (they also run under pytest-django).

With ``-p no:django`` run them as ``pytest tests/forecasting -p no:django
--confcutdir=tests/forecasting`` so that the Django fixtures of ``tests/conftest.py`` are not
loaded.
"""
