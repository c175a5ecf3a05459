"""Every email from three templates (subject, text, HTML), rendered by one helper."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string


def render_message(template: str, context: dict) -> tuple[str, str, str]:
    """Subject, plain text and HTML of ``templates/emails/<template>-*``."""
    context = {
        "site_url": settings.SITE_URL,
        "org_name": settings.ORG_NAME,
        "currency": settings.ORG_CURRENCY,
        **context,
    }
    subject = render_to_string(f"emails/{template}-subject.txt", context)
    text = render_to_string(f"emails/{template}-body.txt", context)
    html = render_to_string(f"emails/{template}-body.html", context)
    return " ".join(subject.split()), text.strip() + "\n", html


def make_message(
    recipient: str, subject: str, text: str, html: str, *, headers: dict | None = None
) -> EmailMultiAlternatives:
    message = EmailMultiAlternatives(
        subject,
        text,
        settings.DEFAULT_FROM_EMAIL,
        [recipient],
        connection=get_connection(fail_silently=False),
        headers={"Auto-Submitted": "auto-generated", **(headers or {})},
    )
    if html:
        message.attach_alternative(html, "text/html")
    return message
