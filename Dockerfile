# Production image: gunicorn for web, the same image runs the Celery worker and beat.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    SPENDAPP_VAR_DIR=/app/var

RUN groupadd --system spendapp && useradd --system --gid spendapp --home-dir /app spendapp

WORKDIR /app
COPY pyproject.toml README.md ./
COPY spendapp ./spendapp
COPY forecasting ./forecasting
RUN pip install --upgrade pip && pip install .
COPY manage.py ./
COPY templates ./templates
COPY static ./static

# collectstatic needs settings but no database or secrets of the real deployment.
RUN DEBUG=1 DATABASE_URL=postgresql://build@localhost/build STATIC_ROOT=/app/staticfiles \
    python manage.py collectstatic --noinput \
 && mkdir -p /app/var && chown -R spendapp:spendapp /app/var

ENV STATIC_ROOT=/app/staticfiles
USER spendapp
EXPOSE 8000
CMD ["gunicorn", "spendapp.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
