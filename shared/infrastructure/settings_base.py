"""Settings both services share. Everything that differs between environments comes from
the environment, with safe defaults; each service's settings module adds what is its own.

Read here, in one place: DATABASE_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS,
CORS_ALLOWED_ORIGINS, PUBLIC_BASE_URL, DATABASE_CONN_MAX_AGE, LOG_LEVEL, and the SECURE_*
of production.
"""

import os
from urllib.parse import urlsplit

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured

from shared.api.timestamps import STRFTIME_TIMESTAMP_FORMAT


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None or value.strip() == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


DEBUG = env_bool("DEBUG", default=False)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured(
            "SECRET_KEY is not set. Set the SECRET_KEY environment variable "
            "(or DEBUG=1 for a development-only throwaway key)."
        )
    SECRET_KEY = "development-only-insecure-key"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")

if not os.environ.get("DATABASE_URL"):
    raise ImproperlyConfigured(
        "DATABASE_URL is not set, e.g. postgres://user:password@127.0.0.1:5432/jobs"
    )


# Persistent connections, one per worker thread, checked at the start of each request
# (CONN_HEALTH_CHECKS). Measured against psycopg's pool here: when PostgreSQL comes back
# from an outage, a pooled worker could keep answering 503 until its pool's reconnect
# backoff ran out, while a checked persistent connection reconnects on the very next
# request. Connections stay bounded by workers x threads (docs/operations.md). The
# engine is Django's PostgreSQL backend with a health check that needs no round trip
# (shared/infrastructure/postgresql/base.py).
def database_settings(url: str) -> dj_database_url.DBConfig:
    """One database's settings from its URL, with the options every connection has."""
    database = dj_database_url.parse(
        url,
        conn_max_age=int(os.environ.get("DATABASE_CONN_MAX_AGE", "300")),
        conn_health_checks=True,
        engine="shared.infrastructure.postgresql",
    )
    database["OPTIONS"] = {
        **database.get("OPTIONS", {}),
        # Fail fast when PostgreSQL is away, so a request gets a 503 instead of hanging
        # (2 s is libpq's minimum; a refused connection fails at once).
        "connect_timeout": 2,
        # Each service runs a handful of statements again and again: bound on the server,
        # psycopg prepares each after its fifth run on a connection, so PostgreSQL stops
        # planning it anew. Both are needed: Django turns psycopg's preparation off unless
        # told, and a client-side-binding cursor never prepares (docs/decisions.md).
        "server_side_binding": True,
        "prepare_threshold": 5,
    }
    return database


DATABASES = {"default": database_settings(os.environ["DATABASE_URL"])}

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "shared.domain.apps.JobsConfig",
]

MIDDLEWARE = [
    "shared.infrastructure.middleware.RequestLogMiddleware",
    "shared.infrastructure.middleware.NoTypeWithoutBodyMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]
# No CSRF middleware: the API has no sessions, no cookies and no forms, so there is no
# ambient credential to forge a request with. Django's middleware answered a malformed
# Cookie header with a csrftoken cookie of a year (and Vary: Cookie) on every path; the
# API sets no cookie, ever. `check --deploy` warns when the middleware is missing.
SILENCED_SYSTEM_CHECKS = ["security.W003"]

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_EXPOSE_HEADERS = [
    "Location",
    "X-Request-ID",
    "ETag",
    "Idempotent-Replayed",
    "Retry-After",
    "Consistency-Token",
    "Data-Staleness",
    "Service-Mode",
]
CORS_ALLOW_HEADERS = (
    *default_headers,
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
    "consistency-token",
)

# Links in pages (next/previous) name the gateway's public address, never the Host or
# X-Forwarded-* headers of a request: a client cannot steer them, and a request without
# Host (HTTP/1.0) cannot leak the service's own address. No trailing slash.
PUBLIC_BASE_URL = os.environ.get("PUBLIC_BASE_URL", "http://127.0.0.1:8080").rstrip("/")
_public = urlsplit(PUBLIC_BASE_URL)
if (
    _public.scheme not in ("http", "https")
    or not _public.netloc
    or _public.path
    or _public.query
    or _public.fragment
):
    raise ImproperlyConfigured(
        f"PUBLIC_BASE_URL must be the gateway's address, e.g. https://jobs.example.com, "
        f"not {PUBLIC_BASE_URL!r}"
    )

# Paths are matched exactly; a missing slash is a 404, never a redirect that drops a body.
APPEND_SLASH = False

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {"context_processors": []},
    }
]

USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = False
LANGUAGE_CODE = "en"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Bodies of this API are a few hundred bytes; the gateway enforces the same bound first.
DATA_UPLOAD_MAX_MEMORY_SIZE = 64 * 1024

SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "no-referrer"
X_FRAME_OPTIONS = "DENY"
# TLS ends in front of the gateway, which sets X-Forwarded-Proto to its own (plain HTTP)
# scheme whatever a client sends: the scheme of a request is that of PUBLIC_BASE_URL
# (shared/infrastructure/wsgi.py), so with an https one every request is secure and gets HSTS. A
# redirect to HTTPS is the TLS proxy's job; here it could only loop.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", default=False)
if SECURE_SSL_REDIRECT and _public.scheme != "https":
    raise ImproperlyConfigured(
        "SECURE_SSL_REDIRECT needs an https PUBLIC_BASE_URL (TLS ends in front of the gateway)"
    )
SECURE_REDIRECT_EXEMPT = [r"^readyz$"]
SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", str(365 * 24 * 3600)))
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", default=False)

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["shared.api.parsers.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "shared.api.problems.problem_exception_handler",
    # Nothing negotiates by URL: `?format=xml` is an unknown parameter like any other
    # (DRF's override answered it with a 404, even to a DELETE, which deleted nothing).
    "URL_FORMAT_OVERRIDE": None,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": STRFTIME_TIMESTAMP_FORMAT,
    "UNICODE_JSON": True,
    "COMPACT_JSON": True,
    "STRICT_JSON": True,
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Jobs API",
    "DESCRIPTION": (
        "Jobs and their immutable status events. Reads (GET/HEAD) are served by the query "
        "service, writes (POST/PATCH/DELETE) by the command service, both behind one gateway. "
        "Every error is RFC 9457 problem+json."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SCHEMA_PATH_PREFIX": r"/api/",
    "COMPONENT_SPLIT_REQUEST": True,
    # PATCH here appends an event and requires status_type: not a partial update.
    "COMPONENT_SPLIT_PATCH": False,
    "ENUM_NAME_OVERRIDES": {"JobStatusTypeEnum": "shared.domain.enums.JobStatusType"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "shared.api.openapi.close_request_bodies",
        "shared.api.openapi.allow_empty_query_values",
        "shared.api.openapi.drop_anonymous_security",
        "shared.api.openapi.name_enum_members",
        # After the others: HEAD copies GET as they left it, and gets the gateway's headers.
        "shared.api.openapi.add_head_operations",
        "shared.api.openapi.describe_gateway_headers",
        "shared.api.openapi.describe_consistency_tokens",
    ],
}

# One JSON object per line, each with the request id of the request it belongs to.
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "shared.infrastructure.middleware.RequestIdFilter"}},
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s %(request_id)s",
            "rename_fields": {"asctime": "time", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_id"],
        }
    },
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Our exception handler logs what matters; django.request would log each 4xx again.
    "loggers": {"django.request": {"level": "ERROR"}},
}
