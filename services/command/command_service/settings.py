"""Settings of the command service: the shared base plus what only the write side has."""

from shared.infrastructure.settings_base import *  # noqa: F403

ROOT_URLCONF = "command_service.urls"
WSGI_APPLICATION = "command_service.wsgi.application"
