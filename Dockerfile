# Production image: gunicorn for web; the same image runs migrate, the Celery worker and beat.
# tests/production/ builds this image's environment and runs its commands without Docker.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    SPENDAPP_VAR_DIR=/app/var

RUN groupadd --system spendapp && useradd --system --gid spendapp --home-dir /app spendapp

WORKDIR /app
# Dependencies first, in their own layer: rebuilt only when the lock changes. Every package is
# pinned and hash-checked (`make lock` writes the file); nothing unlisted is pulled in.
COPY requirements/production.lock requirements/production.lock
RUN pip install --require-hashes --no-deps -r requirements/production.lock

# The code runs from /app, not installed as a package: one copy of it, no build/ or egg-info.
COPY manage.py ./
COPY spendapp ./spendapp
COPY forecasting ./forecasting
COPY templates ./templates
COPY static ./static

# collectstatic needs settings but no database or secrets of the real deployment.
RUN DEBUG=1 DATABASE_URL=postgresql://build@localhost/build STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var/mail && chown -R spendapp:spendapp /app/var

ENV STATIC_ROOT=/app/staticfiles
USER spendapp
EXPOSE 8000
# --preload: the app (and its frozen start-up objects, see spendapp/wsgi.py) is loaded once and
# shared by the 3 workers; each is replaced after ~1,000 requests to bound slow growth.
CMD ["gunicorn", "spendapp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--preload", "--max-requests", "1000", "--max-requests-jitter", "100", "--timeout", "60", "--access-logfile", "-"]
