"""`make bench`'s own arithmetic, on made-up snapshots (the benchmark itself is a command),
and where its statements come from: the query service's command, never its code run in
the launcher's process."""

import ast
import json
import subprocess
import tempfile

import httpx
import psycopg
import pytest

from stack.bench import (
    _TICK_MS,
    CpuMeter,
    Scenario,
    _deep_row,
    _scenarios,
    explain,
    pgbench_binary,
    query_statements,
)
from stack.bench_replicas import _percentiles, _token_outcomes, run_replica_bench
from stack.config import REPO_ROOT
from stack.tools import StackError

# The services' code and what loads it: the launcher runs it only as their own processes.
SERVICE_MODULES = {"django", "rest_framework", "shared", "query_service", "command_service"}
IN_PROCESS_LOADING = {"sys.path", "django.setup"}

MACHINE_BEFORE, MACHINE_AFTER = (100, 1_000), (1_000, 2_000)


def test_cpu_per_request_counts_each_process_from_its_own_start():
    meter = CpuMeter({"postgres": 1})
    before = ({"postgres": {1: 10, 2: 500, 3: 40}}, MACHINE_BEFORE)
    # 2 (a backend with a long past) ended in between; 4 started in between.
    after = ({"postgres": {1: 12, 3: 50, 4: 8}}, MACHINE_AFTER)
    share = meter.share(before, after, requests=10)
    assert share is not None
    assert share.ms_per_request["postgres"] == pytest.approx((2 + 10 + 8) * _TICK_MS / 10)
    assert share.busy == pytest.approx(0.9)


def test_no_share_without_requests():
    meter = CpuMeter({"query": 1})
    snapshot = ({"query": {1: 5}}, MACHINE_BEFORE)
    assert meter.share(snapshot, snapshot, requests=0) is None


def test_a_scenarios_plan_is_explained_with_its_variables_filled(system):
    script = "\\set id random(1, :max_id)\nSELECT name FROM jobs_job WHERE id = :id;\n"
    with psycopg.connect(system.database_url("query"), autocommit=True) as conn:
        plan = explain(conn, script, job_id=42)
    assert "Index Scan" in plan and "(id = 42)" in plan
    assert "actual rows=" in plan and "Execution Time" in plan


def _dotted(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        parent = _dotted(node.value)
        return f"{parent}.{node.attr}" if parent else None
    return None


# Plain data the gateway's config is generated from: no Django, nothing a service runs.
PLAIN_DATA_MODULES = ("shared.api.problem_types",)


def test_the_launcher_runs_no_service_code_in_its_own_process():
    """What the launcher needs of a service comes from that service's own commands, run as
    subprocesses with its environment (bench_statements, migrate, spectacular); it reads
    only the plain-data problem catalogue."""
    found = []
    for path in sorted((REPO_ROOT / "stack").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and not node.level:
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Attribute) and _dotted(node) in IN_PROCESS_LOADING:
                found.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno}: {_dotted(node)}")
                continue
            else:
                continue
            found += [
                f"{path.relative_to(REPO_ROOT)}:{node.lineno}: import {name}"
                for name in names
                if name.split(".")[0] in SERVICE_MODULES and not name.startswith(PLAIN_DATA_MODULES)
            ]
    assert found == []


@pytest.fixture(scope="module")
def bench_scenarios(system) -> tuple[list[Scenario], int]:
    """The bench's scenarios on the test stack, their statements from the query service's
    command, and the largest job id (pgbench's `max_id`)."""
    jobs = [
        httpx.post(f"{system.config.gateway_url}/api/jobs/", json={"name": name}).json()["id"]
        for name in ("bench-etl-1", "bench-etl-2")
    ]
    with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
        deep_key, deep_id = _deep_row(conn, 0)  # the newest: its deep page holds the other
    statements = query_statements(system, deep_key=deep_key, deep_id=deep_id)
    return _scenarios(statements, etag='"x"', job_id=jobs[0]), max(jobs)


def test_every_read_the_bench_measures_has_the_query_services_statement(system, bench_scenarios):
    scenarios, job_id = bench_scenarios
    reads = [s for s in scenarios if s.pgbench_sql]
    assert {s.name for s in scenarios} - {s.name for s in reads} == {
        "detail, 304 revalidation",
        "PATCH (random id)",
        "write mix: POST and PATCH",
    }
    deep = next(s for s in reads if "cursor" in s.path)
    page = httpx.get(system.config.gateway_url + deep.path)
    assert page.status_code == 200 and page.json()["results"]
    with psycopg.connect(system.database_url("query"), autocommit=True) as conn:
        for scenario in reads:
            assert "actual rows=" in explain(conn, scenario.pgbench_sql, job_id=job_id)


def test_pgbench_runs_each_statement_as_the_bench_gives_it(system, bench_scenarios):
    binary = pgbench_binary()
    if binary is None:
        pytest.skip("no pgbench beside this machine's PostgreSQL")
    scenarios, job_id = bench_scenarios
    for scenario in (s for s in scenarios if s.pgbench_sql):
        with tempfile.NamedTemporaryFile("w", suffix=".sql") as script:
            script.write(scenario.pgbench_sql)
            script.flush()
            args = ["-n", "-M", "prepared", "-t2", "-D", f"max_id={job_id}", "-f", script.name]
            out = subprocess.run(
                [str(binary), *args, system.database_url("query")], capture_output=True, text=True
            )
        assert "actually processed: 2/2" in out.stdout, (scenario.name, out.stderr)


def test_the_plain_data_the_launcher_reads_imports_nothing():
    for module in PLAIN_DATA_MODULES:
        path = REPO_ROOT / (module.replace(".", "/") + ".py")
        tree = ast.parse(path.read_text(), filename=str(path))
        assert [
            node for node in ast.walk(tree) if isinstance(node, ast.Import | ast.ImportFrom)
        ] == []


def test_the_replicas_set_counts_how_each_token_was_answered(tmp_path):
    log = tmp_path / "query.log"
    before = [{"message": "request", "consistency": "waited"}]
    after = [
        {"message": "request", "consistency": "waited"},
        {"message": "request", "consistency": "primary"},
        {"message": "request", "consistency": None},
        {"message": "request", "consistency": "replayed"},
        {"message": "request", "consistency": "waited"},
    ]
    log.write_text("".join(json.dumps(line) + "\n" for line in before))
    offset = log.stat().st_size
    with log.open("a") as file:
        file.write("gunicorn says something\n")
        file.writelines(json.dumps(line) + "\n" for line in after)
    assert _token_outcomes({log: offset}) == {"waited": 2, "primary": 1, "replayed": 1}


def test_the_replicas_set_takes_the_99th_percentile_of_what_it_measured():
    values = [float(v) for v in range(1, 201)]
    assert _percentiles(values) == {"p50": 100.5, "p99": 199.0}


def test_the_replicas_set_refuses_a_stack_without_a_standby_and_two_instances(system):
    with pytest.raises(StackError, match="QUERY_INSTANCES=2 READ_REPLICAS=1"):
        run_replica_bench(system)
