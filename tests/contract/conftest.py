"""Contract tests drive the stack `make test` started, through the gateway, as a frontend would."""

from __future__ import annotations

import os
from collections.abc import Iterator

import httpx
import psycopg
import pytest

from stack.system import System
from tests.contract.helpers import written
from tests.contract.openapi_check import ContractChecker

_CHECKER = ContractChecker()


@pytest.fixture(scope="session")
def contract() -> ContractChecker:
    return _CHECKER


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """The full contract run (`make test` sets CONTRACT_COVERAGE=1) must have validated a
    success of every documented operation; a run of a few tests by hand need not."""
    if os.environ.get("CONTRACT_COVERAGE") != "1" or exitstatus != 0:
        return
    missing = _CHECKER.unchecked_operations()
    if missing:
        print(f"\ncontract: documented operations never checked: {sorted(missing)}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def api(system: System, contract: ContractChecker) -> Iterator[httpx.Client]:
    """An HTTP client on the gateway whose every response is checked against the contract."""
    with httpx.Client(
        base_url=system.config.gateway_url,
        timeout=10,
        event_hooks={"response": [contract.check]},
    ) as client:
        yield client


@pytest.fixture
def raw_api(system: System) -> Iterator[httpx.Client]:
    """An unchecked client, for threads and for sending what no client library would."""
    with httpx.Client(base_url=system.config.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def unchanged(admin_db: psycopg.Connection) -> Iterator[None]:
    """Asserts after the test that no job or event was written (a test that arranges a job
    first requests the fixture that makes it before this one)."""
    before = written(admin_db)
    yield
    assert written(admin_db) == before


@pytest.fixture
def admin_db(system: System) -> Iterator[psycopg.Connection]:
    with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def observer_db(system: System) -> Iterator[psycopg.Connection]:
    """A second admin connection, outside any transaction: it watches pg_stat_activity
    while `admin_db` holds a lock in one."""
    with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
        yield conn
