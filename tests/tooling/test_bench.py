"""`make bench`'s own arithmetic, on made-up snapshots (the benchmark itself is a command)."""

import psycopg
import pytest

from stack.bench import _TICK_MS, CpuMeter, explain

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
