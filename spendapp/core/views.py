from django.contrib.auth.decorators import login_not_required
from django.http import HttpResponsePermanentRedirect, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from spendapp.core import health


@require_GET
@never_cache
@login_not_required
def healthz(request):
    """Readiness for load balancers and compose: 200 when the database and broker answer."""
    checks = {"database": health.check_database(), "broker": health.check_broker()}
    ok = all(reason is None for reason in checks.values())
    body = {
        "status": "ok" if ok else "error",
        "checks": {name: reason or "ok" for name, reason in checks.items()},
    }
    return JsonResponse(body, status=200 if ok else 503)


@require_GET
@login_not_required
def favicon(request):
    """Browsers ask for /favicon.ico whatever the page says (CSV downloads, JSON, errors):
    send them to the real icon instead of logging a 404 on every start."""
    return HttpResponsePermanentRedirect(static("img/favicon.svg"))
