"""`make test`: static checks, each service's tests against a PostgreSQL this run starts,
then the whole stack and the contract tests through the gateway, then everything stopped.

Every suite runs even when an earlier one failed, so one run shows every failure; the
exit status is non-zero when anything failed, including a suite that ran no test
(pytest's exit code 5), and every pytest run loads stack/collection_guard.py, which fails
it when any one folder it was given collects no test while the others do.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time

from stack.config import REPO_ROOT, StackConfig
from stack.system import System
from stack.tools import StackError, chromium_binary

PYTHON_SOURCES = ["shared", "services", "stack", "tests"]


def _step(
    name: str, command: list[str], *, env: dict[str, str] | None = None, cwd: str | None = None
) -> bool:
    print(f"\n=== {name}", flush=True)
    started = time.monotonic()
    code = subprocess.run(
        command, env={**os.environ, **(env or {})}, cwd=cwd or REPO_ROOT
    ).returncode
    print(
        f"=== {name}: {'ok' if code == 0 else f'FAILED (exit {code})'} "
        f"in {time.monotonic() - started:.1f}s",
        flush=True,
    )
    return code == 0


def _pytest(name: str, paths: list[str], *, env: dict[str, str], extra: list[str]) -> bool:
    guard = ["-p", "stack.collection_guard"]
    return _step(name, [sys.executable, "-m", "pytest", *guard, *paths, *extra], env=env)


def _test_folders() -> list[str]:
    """Each package under tests/ on its own, so the collection guard sees one that is empty."""
    return sorted(
        f"tests/{folder.name}"
        for folder in (REPO_ROOT / "tests").iterdir()
        if (folder / "__init__.py").is_file()
    )


def _ensure_chromium() -> bool:
    """Debian's chromium, installed here when missing, so its output is seen (the browser
    tests would otherwise install it inside a fixture, silently)."""
    print("\n=== chromium for the dashboard tests", flush=True)
    try:
        print(f"  {chromium_binary()}", flush=True)
    except StackError as error:
        print(f"  FAILED: {error}", flush=True)
        return False
    return True


def _mypy_env(service: str) -> dict[str, str]:
    """What django-stubs needs to load a service's settings (never connects)."""
    return {
        "DATABASE_URL": "postgres://mypy@127.0.0.1:1/mypy",
        "SECRET_KEY": "mypy-only",
        "MYPYPATH": f"services/{service}",
        "DJANGO_SETTINGS_MODULE": f"{service}_service.settings",
    }


def run_all(extra: list[str]) -> int:
    results: dict[str, bool] = {}
    py = sys.executable
    results["ruff lint"] = _step("ruff lint", [py, "-m", "ruff", "check", *PYTHON_SOURCES])
    results["ruff format"] = _step(
        "ruff format", [py, "-m", "ruff", "format", "--check", *PYTHON_SOURCES]
    )
    for service in ("command", "query"):
        # One run per service: each is its own import root (services/<name>).
        # Each service with its tests (a package named `tests` of its own); the suite
        # through the gateway, another package named `tests`, gets a run of its own.
        results[f"mypy {service}"] = _step(
            f"mypy {service}",
            [
                *(py, "-m", "mypy", "shared", "stack"),
                *(f"services/{service}/{service}_service", f"services/{service}/tests"),
            ],
            env=_mypy_env(service),
        )
    results["mypy tests"] = _step(
        "mypy tests", [py, "-m", "mypy", "tests"], env=_mypy_env("command")
    )
    results["openapi up to date"] = _step(
        "openapi up to date", [py, "-m", "stack", "openapi", "--check"]
    )
    results["gateway config up to date"] = _step(
        "gateway config up to date", [py, "-m", "stack", "gateway-config", "--check"]
    )

    # Every run starts from nothing; clean() also removes the secrets, so the stack is
    # built anew (new passwords) after it.
    System(StackConfig.for_tests()).clean()
    system = System(StackConfig.for_tests())
    # Before anything starts: a busy port fails the run at once, naming the TEST_ variable.
    system.check_ports()
    try:
        print("\n=== starting PostgreSQL for the service tests", flush=True)
        system.start_database()
        unit_env = {"DATABASE_URL": system.postgres.admin_url, "SECRET_KEY": "tests-only"}
        results["command service + shared"] = _pytest(
            "command service + shared",
            ["shared/tests", "services/command/tests"],
            env={
                **unit_env,
                "DJANGO_SETTINGS_MODULE": "command_service.settings",
                "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'services' / 'command'}",
            },
            extra=extra,
        )
        results["query service"] = _pytest(
            "query service",
            ["services/query/tests"],
            env={
                **unit_env,
                "DJANGO_SETTINGS_MODULE": "query_service.settings",
                "PYTHONPATH": f"{REPO_ROOT}:{REPO_ROOT / 'services' / 'query'}",
            },
            extra=extra,
        )
        results["chromium for the dashboard tests"] = _ensure_chromium()
        print("\n=== starting the whole stack", flush=True)
        system.up()
        results["contract (through the gateway) and deploy"] = _pytest(
            "contract (through the gateway) and deploy",
            _test_folders(),
            env={"PYTHONPATH": str(REPO_ROOT), "CONTRACT_COVERAGE": "1"},
            extra=extra,
        )
    finally:
        print("\n=== stopping the test stack", flush=True)
        system.down()

    print("\n=== summary")
    for name, ok in results.items():
        print(f"  {'ok    ' if ok else 'FAILED'}  {name}")
    return 0 if all(results.values()) else 1
