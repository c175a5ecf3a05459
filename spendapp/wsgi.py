"""WSGI entry point (gunicorn ``spendapp.wsgi:application``).

Every view module is imported here, at start-up, rather than on the first request, every
template compiled (the cached loader keeps them) and plotly.py's layout validators built
(~80 ms on first use; the scenarios page's first request after a restart paid both); then the
objects alive at that point (Django, pandas, statsmodels, plotly: over a million) are moved
out of the garbage collector's reach with `gc.freeze`. Without it, each full collection walks
all of them: a 100-150 ms pause every few requests on the dashboard's pages
(benchmarks/dashboard_bench.py measures with the same start-up).
"""

import gc
import os
from pathlib import Path

from django.core.wsgi import get_wsgi_application
from django.urls import get_resolver

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "spendapp.settings")
application = get_wsgi_application()


def compile_templates() -> int:
    """Compile every project template into the cached loader; returns how many."""
    from django.conf import settings
    from django.template.loader import get_template

    count = 0
    for folder in settings.TEMPLATES[0]["DIRS"]:
        root = Path(folder)
        for path in sorted(root.rglob("*.html")):
            get_template(path.relative_to(root).as_posix())
            count += 1
    return count


def load_and_freeze() -> None:
    get_resolver().url_patterns  # noqa: B018  (imports the URLconf and every view module)
    compile_templates()
    from spendapp.dashboard import charts

    charts.warm_up()
    gc.collect()
    gc.freeze()


load_and_freeze()
