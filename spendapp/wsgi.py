"""WSGI entry point (gunicorn ``spendapp.wsgi:application``).

Every view module is imported here, at start-up, rather than on the first request; then the
objects alive at that point (Django, pandas, statsmodels, plotly: over a million) are moved
out of the garbage collector's reach with `gc.freeze`. Without it, each full collection walks
all of them: a 100-150 ms pause every few requests on the dashboard's pages
(benchmarks/dashboard_bench.py measures with the same start-up).
"""

import gc
import os

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendapp.settings")
application = get_wsgi_application()


def load_and_freeze() -> None:
    get_resolver().url_patterns  # noqa: B018  (imports the URLconf and every view module)
    gc.collect()
    gc.freeze()


load_and_freeze()
