"""What the contract tests share: the database's invariants in SQL, and waits that end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any, TypeVar

import httpx
import psycopg
import pytest

from shared.domain.rollups import RECOUNT_DIFFERENCES
from stack.config import COMMAND_ROLE
from stack.ports import bind_error

T = TypeVar("T")
R = TypeVar("R")

# Each query counts the rows that break one invariant of the data model (README, "What it
# is"); all must be 0.
INVARIANT_VIOLATIONS = {
    "job without events": """
        SELECT count(*) FROM jobs_job j
         WHERE NOT EXISTS (SELECT 1 FROM jobs_jobstatus s WHERE s.job_id = j.id)""",
    "first event not PENDING": """
        SELECT count(*) FROM jobs_job j
         WHERE (SELECT s.status_type FROM jobs_jobstatus s WHERE s.job_id = j.id
                 ORDER BY s.timestamp, s.id LIMIT 1) <> 'PENDING'""",
    "current status is not the latest event": """
        SELECT count(*) FROM jobs_job j
          JOIN LATERAL (SELECT s.status_type, s.timestamp FROM jobs_jobstatus s
                         WHERE s.job_id = j.id ORDER BY s.timestamp DESC, s.id DESC
                         LIMIT 1) latest ON true
         WHERE (latest.status_type, latest.timestamp)
               IS DISTINCT FROM (j.current_status_type, j.current_status_timestamp)""",
    "timestamps not strictly increasing in insertion order": """
        SELECT count(*) FROM (
            SELECT s.timestamp,
                   lag(s.timestamp) OVER (PARTITION BY s.job_id ORDER BY s.id) AS previous
              FROM jobs_jobstatus s) t
         WHERE t.previous >= t.timestamp""",
    "status counter differs from COUNT(*)": """
        SELECT count(*) FROM (
            SELECT statuses.status,
                   (SELECT coalesce(sum(CASE statuses.status
                                        WHEN 'PENDING' THEN c.pending
                                        WHEN 'RUNNING' THEN c.running
                                        WHEN 'COMPLETED' THEN c.completed
                                        WHEN 'FAILED' THEN c.failed END), 0)
                      FROM jobs_counter_shard c) AS counted,
                   (SELECT count(*) FROM jobs_job j
                     WHERE j.current_status_type = statuses.status) AS actual
              FROM (VALUES ('PENDING'), ('RUNNING'), ('COMPLETED'), ('FAILED'))
                   AS statuses(status)) t
         WHERE t.counted <> t.actual""",
    "event of a missing job": """
        SELECT count(*) FROM jobs_jobstatus s
         WHERE NOT EXISTS (SELECT 1 FROM jobs_job j WHERE j.id = s.job_id)""",
    # The stats' rollups, kept by triggers in every write's transaction.
    **RECOUNT_DIFFERENCES,
}


def scalar(conn: psycopg.Connection, sql: str, params: Sequence[Any] = ()) -> Any:
    """The one value a statement answers (a count, a name)."""
    row = conn.execute(sql, params).fetchone()  # type: ignore[arg-type]
    assert row is not None, sql
    return row[0]


def invariant_violations(conn: psycopg.Connection) -> dict[str, int]:
    """Every invariant with the number of rows that break it (all zero when healthy)."""
    return {name: scalar(conn, query) for name, query in INVARIANT_VIOLATIONS.items()}


def job_count(conn: psycopg.Connection) -> int:
    return scalar(conn, "SELECT count(*) FROM jobs_job")


def written(conn: psycopg.Connection) -> tuple[int, int]:
    """What a refused request must not change: how many jobs and events there are."""
    row = conn.execute(
        "SELECT (SELECT count(*) FROM jobs_job), (SELECT count(*) FROM jobs_jobstatus)"
    ).fetchone()
    assert row is not None
    return row[0], row[1]


def create_job(api: httpx.Client, name: str = "contract-job") -> dict:
    response = api.post("/api/jobs/", json={"name": name})
    assert response.status_code == 201, response.text
    return response.json()


def await_condition(condition: Callable[[], Any], *, timeout: float, what: str) -> Any:
    """Polls `condition` until it returns something true and returns that; fails the test
    naming `what` when it has not within `timeout` seconds (a wait that always ends)."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() >= deadline:
            pytest.fail(f"not within {timeout:g}s: {what}")
        time.sleep(0.05)


def run_in_threads(
    work: Callable[[T], R], inputs: Iterable[T], *, workers: int, timeout: float
) -> list[R]:
    """`work` over `inputs` on `workers` threads, results in input order. Fails the test
    when they are not all done within `timeout` seconds, and then does not wait for the
    stuck ones (a `with ThreadPoolExecutor()` would, on its way out)."""
    pool = ThreadPoolExecutor(max_workers=workers)
    try:
        futures = [pool.submit(work, each) for each in inputs]
        _, not_done = wait(futures, timeout=timeout)
        if not_done:
            pytest.fail(f"{len(not_done)} of {len(futures)} calls not done within {timeout:g}s")
        return [future.result() for future in futures]
    finally:
        pool.shutdown(wait=False, cancel_futures=True)


def command_backends_waiting_on_a_lock(conn: psycopg.Connection) -> int:
    """How many of the command service's database sessions wait on a heavyweight lock
    (a table lock, a row lock, an advisory lock) right now."""
    # Outside a transaction: pg_stat_activity is a snapshot per transaction.
    return scalar(
        conn,
        "SELECT count(*) FROM pg_stat_activity"
        " WHERE usename = %s AND datname = current_database() AND wait_event_type = 'Lock'",
        [COMMAND_ROLE],
    )


def assert_no_invariant_violations(conn: psycopg.Connection) -> None:
    violations = invariant_violations(conn)
    assert violations == dict.fromkeys(violations, 0), violations


def pages_along(
    first: dict, link: str, get: Callable[[str], dict], *, at_most: int = 100
) -> list[dict]:
    """`first` and every page its `link` ("next" or "previous") leads to, in order. Fails
    the test when more than `at_most` pages follow: a cursor that loops never ends."""
    pages = [first]
    while pages[-1][link] is not None:
        if len(pages) > at_most:
            pytest.fail(f"more than {at_most} pages along {link!r}: the cursors loop")
        pages.append(get(pages[-1][link]))
    return pages


def free_from(port: int, *, count: int) -> int:
    """The first port from `port` on that is free with the count - 1 after it: near the
    test stack's own, but not one another checkout's stack holds now."""
    for first in range(port, port + 200, count):
        if all(bind_error("127.0.0.1", first + k) is None for k in range(count)):
            return first
    raise AssertionError(f"no {count} free ports in a row from {port}")
