# One image for both services and the migrate step; compose chooses the command.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app

# Dependencies first (from pyproject.toml), so code changes reuse this layer.
COPY pyproject.toml README.md ./
RUN pip install --no-cache-dir . \
    && groupadd --system --gid 10001 jobs \
    && useradd --system --uid 10001 --gid jobs --no-create-home --shell /usr/sbin/nologin jobs

COPY shared ./shared
COPY services ./services

# Numeric, so Kubernetes' runAsNonRoot can verify it.
USER 10001:10001
EXPOSE 8000

# Overridden per service in compose.yaml; the command service is the default.
CMD ["gunicorn", "--chdir", "services/command", "command_service.wsgi:application", \
     "--bind", "0.0.0.0:8000", "--worker-class", "gthread", "--workers", "2", "--threads", "4", \
     "--limit-request-line", "8190"]
