"""`make seed`: realistic data with every invariant true, and no seeding over real data."""

import os
import subprocess
import sys

import psycopg
import pytest
from psycopg import sql

from stack.config import REPO_ROOT
from stack.seed import seed
from stack.tools import StackError
from tests.contract.helpers import assert_no_invariant_violations, scalar

SEED_DATABASE = "jobs_seed_test"


@pytest.fixture
def empty_database(system):
    """A fresh, migrated database in the test cluster, dropped afterwards."""
    admin = system.postgres.url("jobs_admin", "admin_password", "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {}").format(sql.Identifier(SEED_DATABASE)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(SEED_DATABASE)))
    url = system.postgres.url("jobs_admin", "admin_password", SEED_DATABASE)
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput"],
        cwd=REPO_ROOT / "services" / "command",
        env={**os.environ, "DATABASE_URL": url, "SECRET_KEY": "seed-test"},
        check=True,
        capture_output=True,
    )
    yield url
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(SEED_DATABASE)))


def test_seed_makes_realistic_data_with_every_invariant_true(empty_database):
    seed(empty_database, jobs=3000, force=False)
    with psycopg.connect(empty_database) as conn:
        assert_no_invariant_violations(conn)
        per_status: dict[str, int] = dict(
            conn.execute("SELECT current_status_type, count(*) FROM jobs_job GROUP BY 1").fetchall()
        )
        events = scalar(conn, "SELECT count(*) FROM jobs_jobstatus")
        names = scalar(conn, "SELECT count(DISTINCT split_part(name, '-', 1)) FROM jobs_job")
    assert set(per_status) == {"PENDING", "RUNNING", "COMPLETED", "FAILED"}
    assert sum(per_status.values()) == 3000
    assert 2.3 <= events / 3000 <= 2.7  # about 2.5 events per job, as the reference set
    assert names == 8


def test_seed_refuses_a_database_with_jobs_unless_forced(empty_database):
    seed(empty_database, jobs=10, force=False)
    with pytest.raises(StackError, match="already holds 10 jobs"):
        seed(empty_database, jobs=10, force=False)
    seed(empty_database, jobs=10, force=True)
    with psycopg.connect(empty_database) as conn:
        assert scalar(conn, "SELECT count(*) FROM jobs_job") == 20
        assert_no_invariant_violations(conn)


def test_seed_writes_no_status_time_after_its_own_clock(empty_database):
    """3,000 jobs over the last hour, one every 1.2 s: runs planned to end after the seed's
    clock are left RUNNING (or PENDING), never finished in the future."""
    with psycopg.connect(empty_database) as conn:
        before = scalar(conn, "SELECT now()")
    seed(empty_database, jobs=3000, force=False, span_seconds=3600)
    with psycopg.connect(empty_database) as conn:
        assert_no_invariant_violations(conn)
        seeded_at = scalar(conn, "SELECT max(created_at) FROM jobs_job")
        future = scalar(
            conn, "SELECT count(*) FROM jobs_jobstatus WHERE timestamp > %s", [seeded_at]
        )
        still_running = scalar(
            conn,
            "SELECT count(*) FROM jobs_job WHERE current_status_type = 'RUNNING' "
            "AND created_at > %s - interval '30 minutes'",
            [seeded_at],
        )
    assert seeded_at >= before
    assert future == 0, f"{future} status times after the seed's clock"
    assert still_running > 0


def test_seed_has_a_daily_rhythm_and_a_failure_spike(empty_database):
    """What a chart of the seeded week shows: more arrivals in the afternoon (UTC) than at
    night, and a three-hour spike of failures two days back."""
    seed(empty_database, jobs=5000, force=False, span_seconds=7 * 86400)
    with psycopg.connect(empty_database) as conn:
        assert_no_invariant_violations(conn)
        afternoon, night = conn.execute(
            "SELECT count(*) FILTER (WHERE extract(hour FROM created_at AT TIME ZONE 'UTC') "
            "BETWEEN 12 AND 15), count(*) FILTER (WHERE extract(hour FROM created_at AT "
            "TIME ZONE 'UTC') BETWEEN 0 AND 3) FROM jobs_job "
            "WHERE created_at < date_trunc('day', now(), 'UTC')"
        ).fetchone()  # type: ignore[misc]
        spike, usual = conn.execute(
            "SELECT avg((current_status_type = 'FAILED')::int) FILTER (WHERE in_spike), "
            "avg((current_status_type = 'FAILED')::int) FILTER (WHERE NOT in_spike) "
            "FROM (SELECT current_status_type, created_at >= now() - interval '2 days 6 hours' "
            "AND created_at < now() - interval '2 days 3 hours' AS in_spike FROM jobs_job "
            "WHERE current_status_type IN ('COMPLETED', 'FAILED')) AS finished"
        ).fetchone()  # type: ignore[misc]
    assert afternoon > 2 * night, (afternoon, night)
    assert spike > 2 * usual, (spike, usual)
