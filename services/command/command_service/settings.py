"""Settings of the command service: the shared base plus what only the write side has."""

from shared.settings_base import *  # noqa: F403

ROOT_URLCONF = "command_service.urls"
WSGI_APPLICATION = "command_service.wsgi.application"

SPECTACULAR_SETTINGS = {**SPECTACULAR_SETTINGS}  # noqa: F405

# A status append is one statement that PostgreSQL planned anew for every PATCH (about
# 0.2 ms): bound on the server, psycopg prepares it after its fifth run on a connection.
DATABASES["default"]["OPTIONS"]["server_side_binding"] = True  # noqa: F405
DATABASES["default"]["OPTIONS"]["prepare_threshold"] = 5  # noqa: F405
