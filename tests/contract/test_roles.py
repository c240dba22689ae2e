"""Least privilege: the query service's database role can read, and nothing else."""

import psycopg
import pytest
from psycopg import errors

from tests.contract.helpers import create_job


@pytest.fixture
def query_db(system):
    with psycopg.connect(system.database_url("query"), autocommit=True) as conn:
        yield conn


def test_the_query_role_can_select_what_the_command_role_wrote(api, query_db):
    job = create_job(api, "read by the query role")
    row = query_db.execute(
        "SELECT j.name, count(e.id) FROM jobs_job j JOIN jobs_jobstatus e ON e.job_id = j.id "
        "WHERE j.id = %s GROUP BY j.name",
        [job["id"]],
    ).fetchone()
    assert row == ("read by the query role", 1)


@pytest.mark.parametrize(
    "statement",
    [
        "INSERT INTO jobs_job (name, created_at, updated_at, current_status_type,"
        " current_status_timestamp) VALUES ('x', now(), now(), 'PENDING', now())",
        "UPDATE jobs_job SET name = 'x'",
        "DELETE FROM jobs_jobstatus",
        "TRUNCATE jobs_job CASCADE",
        "CREATE TABLE intruder (id int)",
    ],
)
def test_the_query_role_is_refused_every_write_even_in_a_read_write_transaction(
    query_db, statement
):
    # Its transactions are read-only by default; the privileges refuse even when the
    # session asks for read-write, which is the lock that matters.
    with pytest.raises(errors.ReadOnlySqlTransaction):
        query_db.execute(statement)
    with pytest.raises(errors.InsufficientPrivilege), query_db.transaction():
        query_db.execute("SET TRANSACTION READ WRITE")
        query_db.execute(statement)
