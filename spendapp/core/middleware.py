"""Request and response rules every page shares."""

from __future__ import annotations

from django.http import HttpResponseBadRequest
from django.utils.cache import patch_cache_control


def checks_own_params(view):
    """Mark a view that validates every parameter itself (NUL included) and shows its form
    with the errors: `RejectNulMiddleware` leaves it alone."""
    view.checks_own_params = True
    return view


class RejectNulMiddleware:
    """A NUL byte in a query parameter or form field is a 400 naming the field.

    PostgreSQL text cannot hold NUL, so such a value used to reach a query and end in a 500;
    no legitimate input contains one.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if getattr(view_func, "checks_own_params", False):
            return None
        sources = [request.GET, request.POST] if request.method == "POST" else [request.GET]
        for params in sources:
            for key, values in params.lists():
                if "\x00" in key or any("\x00" in value for value in values):
                    name = key.replace("\x00", "\\0")[:40]
                    return HttpResponseBadRequest(
                        f"{name}: must not contain a NUL byte", content_type="text/plain"
                    )
        return None


class PrivateCacheMiddleware:
    """Authenticated pages and exports are ``Cache-Control: private, no-store``: what one user
    saw is never kept by a shared cache or the browser's disk cache."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            patch_cache_control(response, private=True, no_store=True)
        return response
