"""Settings both services share. Everything that differs between environments comes from
the environment, with safe defaults; each service's settings module adds what is its own.

Read here, in one place: DATABASE_URL, SECRET_KEY, DEBUG, ALLOWED_HOSTS,
CORS_ALLOWED_ORIGINS, DATABASE_POOL_MAX_SIZE, DATABASE_POOL_TIMEOUT, LOG_LEVEL.
"""

import os

import dj_database_url
from corsheaders.defaults import default_headers
from django.core.exceptions import ImproperlyConfigured


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
_database = dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)
_database["OPTIONS"] = {
    **_database.get("OPTIONS", {}),
    # Fail fast when PostgreSQL is away, so a request gets a 503 instead of hanging.
    "connect_timeout": 2,
    # psycopg's pool keeps connections open across requests. Django passes it
    # check=ConnectionPool.check_connection, which drops connections a database restart
    # broke, so the service recovers without a restart of its own.
    "pool": {
        "min_size": 1,
        "max_size": int(os.environ.get("DATABASE_POOL_MAX_SIZE", "4")),
        "timeout": float(os.environ.get("DATABASE_POOL_TIMEOUT", "2")),
    },
}
DATABASES = {"default": _database}

INSTALLED_APPS = [
    "django.contrib.staticfiles",
    "corsheaders",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "shared.apps.JobsConfig",
]

MIDDLEWARE = [
    "shared.middleware.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "corsheaders.middleware.CorsMiddleware",
    "django.middleware.common.CommonMiddleware",
]

CORS_ALLOWED_ORIGINS = env_list("CORS_ALLOWED_ORIGINS")
CORS_EXPOSE_HEADERS = ["Location", "X-Request-ID", "ETag", "Idempotent-Replayed", "Retry-After"]
CORS_ALLOW_HEADERS = (
    *default_headers,
    "if-match",
    "if-none-match",
    "idempotency-key",
    "x-request-id",
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

REST_FRAMEWORK = {
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["shared.parsers.StrictJSONParser"],
    "DEFAULT_AUTHENTICATION_CLASSES": [],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.AllowAny"],
    "UNAUTHENTICATED_USER": None,
    "EXCEPTION_HANDLER": "shared.problems.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
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
    "ENUM_NAME_OVERRIDES": {"JobStatusTypeEnum": "shared.enums.JobStatusType"},
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    # Our exception handler logs what matters; django.request would log each 4xx again.
    "loggers": {"django.request": {"level": "ERROR"}},
}
