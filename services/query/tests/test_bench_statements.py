"""`manage.py bench_statements`: the pgbench scripts `make bench` measures are the
statements this service runs for the same URLs, and read the same to PostgreSQL once
their literals are made safe for pgbench."""

import io
import json
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from psycopg import sql

from query_service import selectors
from query_service.management.commands.bench_statements import (
    _STAND_INS,
    pgbench_text,
    pgbench_variables,
)
from query_service.statements import Statement

pytestmark = pytest.mark.django_db

# List pages by their query strings, as the bench names them; the last one's term holds a
# colon and a backslash, which pgbench and the literal's escapes must both get right.
LISTS = ["", "status=RUNNING", "status=FAILED,PENDING", "search=etl", "search=a%3Ab%5Cc"]


def bench_statements(*args: str) -> dict[str, Any]:
    out = io.StringIO()
    call_command("bench_statements", *args, stdout=out)
    return json.loads(out.getvalue())


def run(script: str, **variables: int) -> tuple[Any, ...]:
    """A script's statement on the test database, pgbench's variables set as given."""
    sql = script.rstrip().removesuffix(";")
    for name, value in variables.items():
        sql = sql.replace(f":{name}", str(value))
    assert not pgbench_variables(sql)
    with connection.cursor() as cursor:
        cursor.execute(sql)
        return cursor.fetchone()


def test_each_statement_runs_and_reads_what_the_api_answers_for_its_url(api, make_job):
    make_job("nightly-etl")
    make_job("a:b\\c", "RUNNING")
    make_job("broken", "RUNNING", "FAILED")
    jobs = [make_job(f"job-{n}", created=10 + n) for n in range(30)]
    deep = jobs[-5]  # the deep page: the 28 jobs after it in the order, of which it shows 20
    found = bench_statements(
        *(f"--list={query}" for query in LISTS),
        f"--deep-key={deep.created_at.isoformat()}",
        f"--deep-id={deep.pk}",
    )

    assert sorted(found) == ["deep_page", "detail", "history", "lists", "stats", "summary"]
    assert list(found["lists"]) == LISTS
    for query, script in found["lists"].items():
        rows = json.loads(run(script)[0])
        assert rows and rows == api.get(f"/api/jobs/?{query}").json()["results"], query
    deep_rows = json.loads(run(found["deep_page"]["script"])[0])
    page = api.get(f"/api/jobs/?cursor={found['deep_page']['cursor']}").json()
    assert deep_rows == page["results"]
    assert [row["id"] for row in deep_rows] == [job.pk for job in reversed(jobs[:-5])][:20]

    job = jobs[0]
    assert json.loads(run(found["detail"], id=job.pk)[0]) == api.get(f"/api/jobs/{job.pk}/").json()
    history = api.get(f"/api/jobs/{job.pk}/statuses/").json()["results"]
    assert json.loads(run(found["history"], id=job.pk)[0]) == history
    *by_status, _version = run(found["summary"])[0]
    assert by_status == list(api.get("/api/jobs/summary/").json()["by_status"].values())


def test_the_scripts_name_the_job_by_the_variable_asked_for(make_job):
    job = make_job("one")
    found = bench_statements("--deep-key=2026-11-28T12:00:00+00:00", "--deep-id=1")
    assert pgbench_variables(found["detail"]) == pgbench_variables(found["history"]) == {"id"}
    renamed = bench_statements(
        "--deep-key=2026-11-28T12:00:00+00:00", "--deep-id=1", "--job-id-variable=job"
    )
    assert renamed["detail"] == found["detail"].replace(":id", ":job")
    assert json.loads(run(renamed["detail"], job=job.pk)[0])["name"] == "one"


@pytest.mark.parametrize(
    "statement",
    [
        r"""SELECT to_char(timestamp '2026-11-30 01:02:03.5', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')""",
        r"SELECT 'a:b\c', 'it''s :x', '::text', 'no colon', E'\\:y\:z\'', 1::int",
    ],
)
def test_literals_made_safe_for_pgbench_read_the_same_to_postgresql(statement):
    safe = pgbench_text(statement)
    assert pgbench_variables(statement)
    assert not pgbench_variables(safe)
    with connection.cursor() as cursor:
        cursor.execute(statement)
        original = cursor.fetchone()
        cursor.execute(safe)
        assert cursor.fetchone() == original


def test_a_variable_pgbench_would_find_outside_a_literal_is_refused(monkeypatch):
    """A colon the escapes cannot reach (here in a comment) would silently become a
    parameter of pgbench: the command fails instead."""
    monkeypatch.setattr(
        selectors,
        "job_detail_query",
        lambda job_id: Statement(sql.SQL("SELECT %(job_id)s -- :note"), {"job_id": job_id}),
    )
    with pytest.raises(CommandError, match="note"):
        bench_statements("--deep-key=2026-11-28T12:00:00+00:00", "--deep-id=1")


def test_a_statement_holding_the_stand_in_id_as_another_number_is_refused(monkeypatch):
    monkeypatch.setattr(
        selectors, "job_counts_query", lambda: Statement(sql.SQL(f"SELECT {_STAND_INS[0]}"), {})
    )
    with pytest.raises(CommandError, match="stand-in"):
        bench_statements("--deep-key=2026-11-28T12:00:00+00:00", "--deep-id=1")


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ("colour=red", "colour"),
        ("created_after=yesterday", "created_after"),
        (
            "created_after=2026-11-30T00:00:00Z&created_before=2026-11-29T00:00:00Z",
            "created_before",
        ),
    ],
)
def test_a_list_query_the_api_would_refuse_is_refused(query, named):
    with pytest.raises(CommandError, match=named):
        bench_statements(f"--list={query}", "--deep-key=2026-11-28T12:00:00", "--deep-id=1")


def test_a_list_query_is_read_as_the_api_reads_it_windows_and_order_included():
    query = "status=FAILED&status_changed_after=2026-11-30T13:00:00Z&ordering=name"
    scripts = bench_statements(f"--list={query}", "--deep-key=2026-11-28T12:00:00", "--deep-id=1")
    script = scripts["lists"][query]
    assert '"j"."name" ASC' in script and "FAILED" in script
    # The bound inlined, its colons escaped for pgbench.
    assert "current_status_timestamp\" >= E'2026-11-30 13\\x3a00" in script, script


def test_a_stats_script_reads_the_rollups_the_api_reads(api, make_job):
    make_job("finished", "RUNNING", "COMPLETED", created=-30)
    query = "bucket=minute&since=2026-11-28T11:00:00Z&until=2026-11-28T13:00:00Z"
    found = bench_statements(f"--stats={query}", "--deep-key=2026-11-28T12:00:00", "--deep-id=1")
    _counts, entered, runs, _past_changes, _now = run(found["stats"][query])
    body = api.get(f"/api/jobs/stats/?{query}").json()
    assert sum(int(count) for count in entered.split()[2::3]) == 3  # "start status count ..."
    assert body["total"]["entered"] == {"PENDING": 1, "RUNNING": 1, "COMPLETED": 1, "FAILED": 0}
    assert sum(int(count) for count in runs.split()[2::3]) == body["total"]["run_time"]["count"]
    assert body["total"]["run_time"]["count"] == 1


def test_a_stats_query_the_api_would_refuse_is_refused():
    with pytest.raises(CommandError, match="bucket"):
        bench_statements("--stats=bucket=week", "--deep-key=2026-11-28T12:00:00", "--deep-id=1")
