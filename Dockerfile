# Ledgerline: the app under gunicorn. Configure it with environment variables (.env.example).
FROM python:3.11-slim

# gunicorn reads GUNICORN_CMD_ARGS; override it at run time to resize. Threaded workers suit a
# synchronous app waiting on PostgreSQL. Keep --threads <= DB_POOL_MAX (one connection per thread) and
# workers x DB_POOL_MAX x hosts under PostgreSQL's max_connections.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    GUNICORN_CMD_ARGS="--workers 3 --threads 4 --timeout 30 --graceful-timeout 30 --keep-alive 5 --max-requests 2000 --max-requests-jitter 200 --worker-tmp-dir /dev/shm"

RUN useradd --create-home --uid 10001 --shell /usr/sbin/nologin ledgerline

WORKDIR /app
COPY requirements.txt .
RUN pip install -r requirements.txt

# The code stays owned by root: the app user can read it, not change it.
COPY . .
# Static files are collected at build. The key and hosts here exist only for this command.
RUN DEBUG=false SECRET_KEY=build-time-only-collectstatic-not-a-real-secret-key-0123456789 \
    ALLOWED_HOSTS=localhost python manage.py collectstatic --noinput \
 && mkdir -p var && chown ledgerline:ledgerline var

USER ledgerline
EXPOSE 8000

# The Host header is the first ALLOWED_HOSTS entry so Django accepts the probe; the
# X-Forwarded-Proto header keeps SECURE_SSL_REDIRECT from redirecting it when behind a proxy.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 CMD \
  python -c "import os, urllib.request as u; h = os.environ.get('ALLOWED_HOSTS', '').split(',')[0].strip().lstrip('*') or 'localhost'; u.urlopen(u.Request('http://127.0.0.1:8000/health/live', headers={'Host': h, 'X-Forwarded-Proto': 'https'}), timeout=4)"

CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000"]
