"""Personal API tokens: shown once, stored as a SHA-256 digest, scoped, expiring, revocable.

A token is ``spk_`` + 43 random URL-safe characters (256 bits): a digest without salt is
enough for a secret of that strength (the same as GitHub's tokens), and lets a request find
its token with one indexed lookup. ``prefix`` (the first 12 characters) is kept in clear so a
user can tell their tokens apart on their page.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

READ = "read"
SCENARIOS_WRITE = "scenarios:write"
BUDGETS_WRITE = "budgets:write"
ALLOCATION_WRITE = "allocation:write"
SCOPES = (READ, SCENARIOS_WRITE, BUDGETS_WRITE, ALLOCATION_WRITE)
SCOPE_CHOICES = [
    (READ, "read: everything the dashboards show"),
    (SCENARIOS_WRITE, "scenarios:write: save and delete scenarios"),
    (BUDGETS_WRITE, "budgets:write: create and edit budgets, acknowledge alerts"),
    (ALLOCATION_WRITE, "allocation:write: edit teams and allocation rules"),
]


class ApiToken(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens"
    )
    name = models.CharField(max_length=100, help_text="What the token is for, e.g. “BI sync”.")
    prefix = models.CharField(max_length=12, editable=False)
    digest = models.CharField(max_length=64, unique=True, editable=False)
    scopes = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def active(self) -> bool:
        return self.revoked_at is None and self.expires_at > timezone.now()

    @property
    def state(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        return "active" if self.expires_at > timezone.now() else "expired"
