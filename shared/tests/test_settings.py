"""Safe defaults of both services' settings, checked in fresh processes (settings load once)."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SERVICES = ["command", "query"]
STRONG_KEY = "k3Y-" + "x7Qp9" * 12
PRODUCTION = {
    "DATABASE_URL": "postgres://jobs_command:secret@db.internal:5432/jobs",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "jobs.example.com",
    "SECURE_SSL_REDIRECT": "1",
    "SECURE_HSTS_PRELOAD": "1",
    "PUBLIC_BASE_URL": "https://jobs.example.com",
}


def run_in_service(service: str, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in {"SECRET_KEY", "DEBUG"}}
    clean.pop("DJANGO_SETTINGS_MODULE", None)
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT / "services" / service,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("service", SERVICES)
def test_a_missing_secret_key_stops_the_service_at_start_with_a_clear_message(service):
    result = run_in_service(
        service, {"DATABASE_URL": PRODUCTION["DATABASE_URL"]}, "manage.py", "check"
    )
    assert result.returncode != 0
    assert "SECRET_KEY is not set" in result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_debug_is_off_unless_asked(service):
    result = run_in_service(
        service,
        {"DATABASE_URL": PRODUCTION["DATABASE_URL"], "SECRET_KEY": STRONG_KEY},
        "manage.py",
        "shell",
        "-c",
        "from django.conf import settings; print(settings.DEBUG)",
    )
    assert result.stdout.strip().splitlines()[-1] == "False", result.stderr


@pytest.mark.parametrize("service", SERVICES)
def test_check_deploy_is_clean_for_the_production_settings(service):
    result = run_in_service(
        service, PRODUCTION, "manage.py", "check", "--deploy", "--fail-level", "DEBUG"
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"PUBLIC_BASE_URL": "http://jobs.example.com"}, "SECURE_SSL_REDIRECT needs an https"),
        ({"PUBLIC_BASE_URL": "https://jobs.example.com/api"}, "PUBLIC_BASE_URL must be"),
        ({"PUBLIC_BASE_URL": "jobs.example.com"}, "PUBLIC_BASE_URL must be"),
    ],
)
def test_a_public_address_that_cannot_work_stops_the_service_at_start(overrides, message):
    # An http address with the HTTPS redirect on would redirect every request forever.
    result = run_in_service("query", {**PRODUCTION, **overrides}, "manage.py", "check")
    assert result.returncode != 0
    assert message in result.stderr
