"""`make bench`: the running, seeded stack measured through the gateway with wrk, and the
same reads measured in PostgreSQL alone with pgbench (the ceiling), on the statements
the query service's `bench_statements` command gives. Prints a markdown table and writes
it, with a description of the machine, to docs/benchmarks.md.

Each scenario: wrk, 2 threads, 8 connections, 5 s (BENCH_SECONDS), in 3 rounds
(BENCH_ROUNDS) that each run every scenario once, so that a slow minute of a shared
machine does not land on one scenario alone; the table gives the median round of each
and the range of all its rounds. The first round warms each scenario up for 2 s.
During each wrk run the CPU time of each part of the stack is read from /proc, and a
second table gives it per request: the two cores are shared by all parts, so that sum
is what bounds the requests per second.
The gateway's per-client rate limit would throttle wrk (one client), so the bench puts a
gateway with the limit lifted in front of the same services for its duration and restores
the configured one afterwards.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg

from stack.config import REPO_ROOT
from stack.processes import Gateway, read_pid
from stack.system import System
from stack.tools import StackError, nginx_binary, postgres_bindir, wrk_binary

SECONDS = int(os.environ.get("BENCH_SECONDS", "5"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
CONNECTIONS = 8
RESULTS_PATH = REPO_ROOT / "docs" / "benchmarks.md"
SCRIPTS = Path(__file__).parent / "bench_scripts"

# The pgbench variable that holds the random job id of the detail and history scenarios.
JOB_ID_VARIABLE = "id"


def _ago(**delta: float) -> str:
    """The instant that long before now, as the API takes it (RFC 3339, UTC)."""
    return (dt.datetime.now(dt.UTC) - dt.timedelta(**delta)).strftime("%Y-%m-%dT%H:%M:%SZ")


# The list pages measured: scenario, the API's query string (the query service gives each
# its statement), target of requests per second. Time windows end now, as a dashboard's.
LISTS: list[tuple[str, str, float | None]] = [
    ("list, first page", "", 1500),
    ("list, status=RUNNING", "status=RUNNING", None),
    ("list, status=FAILED,PENDING", "status=FAILED,PENDING", None),
    ("list, search rare (-424242)", "search=-424242", None),
    ("list, search common (etl)", "search=etl", None),
    (
        "list, FAILED in the last hour, newest status first",
        f"status=FAILED&status_changed_after={_ago(hours=1)}&ordering=-current_status_timestamp",
        None,
    ),
    ("list, created in the last 7 days", f"created_after={_ago(days=7)}", None),
]

# The stats reads measured: scenario, the API's query string. A day by minute is 1,440
# buckets, over the API's bound of 1,000: the longest minute range it gives is measured,
# with its end fixed (with `until` now, the range would outgrow the bound as the bench
# runs).
STATS: list[tuple[str, str]] = [
    ("stats, 7 days by hour", f"bucket=hour&since={_ago(days=7)}"),
    (
        "stats, 1,000 minutes by minute",
        f"bucket=minute&since={_ago(minutes=999)}&until={_ago(minutes=0)}",
    ),
    ("stats, 24 h by hour (dashboard default)", "bucket=hour"),
]


@dataclass
class Scenario:
    name: str
    path: str
    lua: str | None = None
    pgbench_sql: str | None = None
    p99_target_ms: float | None = None
    rps_target: float | None = None
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


@dataclass
class Measured:
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    ceiling_tps: float | None
    cpu: CpuShare | None = None
    rps_range: tuple[float, float] | None = None  # lowest and highest of the rounds


@dataclass
class CpuShare:
    """Where the machine's CPU went during one wrk run: milliseconds per request of each
    part of the stack (user + system time, from /proc), and how busy the machine was."""

    ms_per_request: dict[str, float]
    busy: float  # of all cores, 0 to 1


_TICK_MS = 1000 / os.sysconf("SC_CLK_TCK")


def _process_table() -> dict[int, tuple[int, int]]:
    """pid -> (parent pid, user + system CPU ticks) of every process, from /proc."""
    found: dict[int, tuple[int, int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            found[int(stat.parent.name)] = (int(fields[1]), int(fields[11]) + int(fields[12]))
        except (OSError, IndexError, ValueError):
            continue
    return found


class CpuMeter:
    """CPU time of the stack's processes, grouped: each gunicorn (master and workers),
    PostgreSQL (postmaster and backends), the gateway (nginx master and workers)."""

    def __init__(self, roots: dict[str, int | None]) -> None:
        self.roots = {name: pid for name, pid in roots.items() if pid}

    @staticmethod
    def _machine_ticks() -> tuple[int, int]:
        """(busy, total) ticks of all cores since boot."""
        values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
        idle = values[3] + values[4]  # idle and iowait
        return sum(values[:8]) - idle, sum(values[:8])

    def snapshot(self) -> tuple[dict[str, dict[int, int]], tuple[int, int]]:
        """CPU ticks of each process of each group, and the machine's (busy, total)."""
        ticks: dict[str, dict[int, int]] = {name: {} for name in self.roots}
        for pid, (parent, used) in _process_table().items():
            for name, root in self.roots.items():
                if root in (pid, parent):
                    ticks[name][pid] = used
        return ticks, self._machine_ticks()

    def share(self, before: Any, after: Any, requests: float) -> CpuShare | None:
        """Per process, what it used between the two snapshots (all of it when it started
        in between). A process that ended in between (a PostgreSQL backend or autovacuum
        worker) is left out: summing the groups instead took its whole past off the
        group, and once gave PostgreSQL a negative share."""
        (ticks_before, (busy_before, total_before)) = before
        (ticks_after, (busy_after, total_after)) = after
        if requests <= 0 or total_after <= total_before:
            return None
        return CpuShare(
            ms_per_request={
                name: sum(
                    used - ticks_before.get(name, {}).get(pid, 0) for pid, used in processes.items()
                )
                * _TICK_MS
                / requests
                for name, processes in ticks_after.items()
            },
            busy=(busy_after - busy_before) / (total_after - total_before),
        )


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s)", value).groups()  # type: ignore[union-attr]
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def _wrk(
    url: str, scenario: Scenario, env: dict[str, str], meter: CpuMeter, *, warm_up: bool
) -> Measured:
    args = [str(wrk_binary()), "-t2", f"-c{CONNECTIONS}", f"-d{SECONDS}s", "--latency"]
    for name, value in scenario.headers.items():
        args += ["-H", f"{name}: {value}"]
    if scenario.lua:
        args += ["-s", str(SCRIPTS / scenario.lua)]
    if warm_up:
        warmup = [*args[:3], "-d2s", *args[4:]]
        subprocess.run([*warmup, url + scenario.path], capture_output=True, env=env, check=True)
    before = meter.snapshot()
    out = subprocess.run(
        [*args, url + scenario.path], capture_output=True, text=True, env=env, check=True
    ).stdout
    after = meter.snapshot()
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    requests = int(re.search(r"(\d+) requests in", out).group(1))  # type: ignore[union-attr]
    p50 = _ms(re.search(r"\s50%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    p99 = _ms(re.search(r"\s99%\s+(\S+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    failed = int(errors.group(1)) if errors else 0
    if socket_errors:
        failed += sum(int(n) for n in socket_errors.groups())
    return Measured(rps, p50, p99, failed, None, meter.share(before, after, requests))


def pgbench_binary() -> Path | None:
    """pgbench on PATH, else beside the stack's PostgreSQL (an embedded one may have none)."""
    binary = Path(shutil.which("pgbench") or postgres_bindir() / "pgbench")
    return binary if binary.exists() else None


def _pgbench(database_url: str, sql: str, variables: dict[str, str]) -> float | None:
    binary = pgbench_binary()
    if binary is None:
        return None
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(sql)
    try:
        args = [str(binary), "-n", "-M", "prepared", f"-c{CONNECTIONS}", "-j2", f"-T{SECONDS}"]
        for name, value in variables.items():
            args += ["-D", f"{name}={value}"]
        out = subprocess.run(
            [*args, "-f", script.name, database_url], capture_output=True, text=True
        )
    finally:
        os.unlink(script.name)
    found = re.search(r"tps = ([\d.]+)", out.stdout)
    return float(found.group(1)) if found else None


def _worker_rss_mb(system: System) -> dict[str, list[float]]:
    """Resident memory of each gunicorn worker (children of each master)."""
    result: dict[str, list[float]] = {}
    processes = _process_table()
    for name, service in system.services.items():
        master = read_pid(service.pid_file)
        sizes = []
        for pid, (parent, _) in processes.items():
            if parent != master:
                continue
            try:
                status = Path(f"/proc/{pid}/status").read_text()
                kb = int(re.search(r"VmRSS:\s+(\d+)", status).group(1))  # type: ignore[union-attr]
            except (OSError, AttributeError):
                continue
            sizes.append(round(kb / 1024, 1))
        result[name] = sorted(sizes)
    return result


def server_pid(data: Path) -> int | None:
    """The pid of the PostgreSQL server of a data folder: postmaster.pid's first line."""
    try:
        return int((data / "postmaster.pid").read_text().split("\n", 1)[0])
    except (OSError, ValueError):
        return None


def _deep_row(conn: psycopg.Connection, depth: int) -> tuple[str, int]:
    """The created_at and id of the job `depth` rows into the default order, where the
    deep page starts."""
    row = conn.execute(
        "SELECT created_at, id FROM jobs_job ORDER BY created_at DESC, id DESC OFFSET %s LIMIT 1",
        [depth],
    ).fetchone()
    if row is None:
        raise StackError("the database is too small for a deep cursor: `make seed` first")
    return row[0].isoformat(), row[1]


def query_statements(system: System, *, deep_key: str, deep_id: int) -> dict[str, Any]:
    """The query service's statements of the scenarios as pgbench scripts, and the cursor
    of the deep page, from its management command `bench_statements` (its docstring has
    the JSON's shape), run with the service's own environment: pgbench runs exactly what
    the service runs, and the launcher runs no code of the service itself."""
    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "bench_statements",
            *(f"--list={query}" for _, query, _ in LISTS),
            *(f"--stats={query}" for _, query in STATS),
            f"--deep-key={deep_key}",
            f"--deep-id={deep_id}",
            f"--job-id-variable={JOB_ID_VARIABLE}",
        ],
        cwd=REPO_ROOT / "services" / "query",
        env={
            **os.environ,
            **system.services["query"].env,
            "DJANGO_SETTINGS_MODULE": "query_service.settings",
        },
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise StackError(f"the query service's bench_statements failed:\n{result.stderr}")
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _machine() -> list[str]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor() or "unknown",
    )
    memory = re.search(r"MemTotal:\s+(\d+)", Path("/proc/meminfo").read_text())
    nginx = subprocess.run([str(nginx_binary()), "-v"], capture_output=True, text=True).stderr
    gib = int(memory.group(1)) // 1024 // 1024 if memory else "?"
    return [
        f"- CPU: {cpu}, {os.cpu_count()} cores; memory {gib} GiB",
        f"- {platform.platform()}; Python {platform.python_version()}; {nginx.strip()}",
    ]


def run_bench(system: System) -> int:
    wrk_binary()  # installed now, before the clock of the first scenario starts
    admin = system.postgres.admin_url
    with psycopg.connect(admin, autocommit=True) as conn:
        jobs = conn.execute("SELECT count(*) FROM jobs_job").fetchone()[0]  # type: ignore[index]
        events = conn.execute("SELECT count(*) FROM jobs_jobstatus").fetchone()[0]  # type: ignore[index]
        max_id = conn.execute("SELECT max(id) FROM jobs_job").fetchone()[0]  # type: ignore[index]
        pg_version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        if jobs < 1000:
            raise StackError("seed the stack first: make seed JOBS=1000000")
        depth = min(900_000, max(jobs - 100, 0))
        deep_key, deep_id = _deep_row(conn, depth)
        sample = conn.execute(
            "SELECT id, updated_at FROM jobs_job WHERE id = %s", [max_id // 2]
        ).fetchone()
    scenarios = _scenarios(
        query_statements(system, deep_key=deep_key, deep_id=deep_id),
        etag=httpx.get(f"{system.config.gateway_url}/api/jobs/{sample[0]}/").headers["ETag"],  # type: ignore[index]
        job_id=sample[0],  # type: ignore[index]
    )

    url = system.config.gateway_url
    env = {**os.environ, "BENCH_MAX_ID": str(max_id)}

    lifted = dataclasses.replace(system.config, rate_limit=1_000_000, rate_burst=1_000_000)
    system.gateway.stop()
    bench_gateway = Gateway(lifted)
    bench_gateway.start()
    rows = []
    try:
        meter = CpuMeter(
            {
                "query": read_pid(system.services["query"].pid_file),
                "command": read_pid(system.services["command"].pid_file),
                "PostgreSQL": server_pid(system.postgres.data),
                "gateway": read_pid(bench_gateway.pid_file),
            }
        )
        rounds: list[list[Measured]] = [[] for _ in scenarios]
        for number in range(1, ROUNDS + 1):
            for scenario, runs in zip(scenarios, rounds, strict=True):
                print(f"  round {number}/{ROUNDS}: {scenario.name} ...", flush=True)
                runs.append(_wrk(url, scenario, env, meter, warm_up=number == 1))
        rollups = _rollup_cost(admin, url, env, meter)
        for scenario, runs in zip(scenarios, rounds, strict=True):
            print(f"  ceiling: {scenario.name} ...", flush=True)
            median = sorted(runs, key=lambda run: run.rps)[len(runs) // 2]
            median.errors = sum(run.errors for run in runs)
            median.rps_range = (min(run.rps for run in runs), max(run.rps for run in runs))
            if scenario.pgbench_sql:
                median.ceiling_tps = _pgbench(
                    system.database_url("query"),
                    scenario.pgbench_sql,
                    {"max_id": str(max_id), "cursor_at": str(depth)},
                )
            rows.append((scenario, median))
    finally:
        bench_gateway.stop()
        system.gateway.start()
    rss = _worker_rss_mb(system)
    with psycopg.connect(system.database_url("query"), autocommit=True) as conn:
        plans = {}
        for scenario, _ in rows:
            if scenario.pgbench_sql:
                # A plan that cannot be read must not cost the run its figures.
                try:
                    plans[scenario.name] = explain(conn, scenario.pgbench_sql, job_id=sample[0])  # type: ignore[index]
                except psycopg.Error as error:
                    plans[scenario.name] = f"(no plan: {error})"
    report = _report(rows, rss, jobs=jobs, events=events, pg_version=pg_version)
    report += _rollups_section(rollups)
    report += _plans_section(plans, jobs=jobs)
    print(report)
    RESULTS_PATH.write_text(report)
    print(f"written to {RESULTS_PATH.relative_to(REPO_ROOT)}")
    return 0


# The writes whose cost the stats' rollups add to; their target, the most they may cost.
ROLLUP_WRITES = [
    Scenario("PATCH (random id)", "/api/jobs/", lua="patch.lua"),
    Scenario("write mix: POST and PATCH", "/api/jobs/", lua="write_mix.lua"),
]
ROLLUP_COST_TARGET = 0.15
# More rounds than the reads: a write's cost varies round by round more than the share
# measured (checkpoints, autovacuum), so the median of a few is noise.
ROLLUP_ROUNDS = int(os.environ.get("BENCH_ROLLUP_ROUNDS", "6"))
# Every trigger the stats keep on the events table for writes (migrations 0010, 0012).
_ROLLUP_TRIGGERS = ("jobs_rollup_insert", "jobs_rollup_delete")


def _set_rollup_triggers(admin_url: str, *, enabled: bool) -> None:
    with psycopg.connect(admin_url, autocommit=True) as conn:
        for trigger in _ROLLUP_TRIGGERS:
            action = "ENABLE" if enabled else "DISABLE"
            conn.execute(f"ALTER TABLE jobs_jobstatus {action} TRIGGER {trigger}")


def _rollup_cost(
    admin_url: str, url: str, env: dict[str, str], meter: CpuMeter
) -> list[tuple[str, list[tuple[float, float]]]]:
    """Each write scenario with the rollup triggers off (the writes as before the stats)
    and on, alternating (which goes first alternates too), ROLLUP_ROUNDS times: (off, on) req/s
    per round. The rollups are then rebuilt from the events, which the writes with the
    triggers off did not count."""
    measured: list[tuple[str, list[tuple[float, float]]]] = []
    try:
        for scenario in ROLLUP_WRITES:
            pairs = []
            for number in range(ROLLUP_ROUNDS):
                rps = {}
                for enabled in (False, True) if number % 2 == 0 else (True, False):
                    print(
                        f"  rollups {'on' if enabled else 'off'}: {scenario.name} ...", flush=True
                    )
                    _set_rollup_triggers(admin_url, enabled=enabled)
                    rps[enabled] = _wrk(url, scenario, env, meter, warm_up=False).rps
                pairs.append((rps[False], rps[True]))
            measured.append((scenario.name, pairs))
    finally:
        _set_rollup_triggers(admin_url, enabled=True)
        print("  rebuilding the rollups from the events ...", flush=True)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute("SELECT jobs_rollup_rebuild()")
    return measured


def _rollups_section(measured: list[tuple[str, list[tuple[float, float]]]]) -> str:
    lines = [
        "",
        "## What the stats' rollups cost the writes",
        "",
        "The same write scenario with the rollup triggers off (as before the stats) and on, "
        "alternating round by round on the same data; cost = 1 - on/off of each round "
        f"(target: at most {ROLLUP_COST_TARGET:.0%}).",
        "",
        "| scenario | rounds: off -> on req/s | cost per round | median cost | target |",
        "|---|---|---|---:|---|",
    ]
    for name, pairs in measured:
        costs = sorted(1 - on / off for off, on in pairs)
        median = costs[len(costs) // 2]
        verdict = "met" if median <= ROLLUP_COST_TARGET else "MISSED"
        rounds = ", ".join(f"{off:,.0f} -> {on:,.0f}" for off, on in pairs)
        per_round = ", ".join(f"{1 - on / off:+.1%}" for off, on in pairs)
        lines.append(
            f"| {name} | {rounds} | {per_round} | {median:+.1%} | "
            f"{verdict} <= {ROLLUP_COST_TARGET:.0%} |"
        )
    return "\n".join([*lines, "", ""])


def _scenarios(statements: dict[str, Any], *, etag: str, job_id: int) -> list[Scenario]:
    """What the dashboard does most, with the SQL the query service runs for each."""
    random_id = f"\\set {JOB_ID_VARIABLE} random(1, :max_id)\n"
    deep = statements["deep_page"]
    return [
        *(
            Scenario(
                name,
                f"/api/jobs/?{query}" if query else "/api/jobs/",
                pgbench_sql=statements["lists"][query],
                p99_target_ms=15,
                rps_target=rps_target,
            )
            for name, query, rps_target in LISTS
        ),
        Scenario(
            "list, cursor page 900,000 deep",
            f"/api/jobs/?cursor={deep['cursor']}",
            pgbench_sql=deep["script"],
            p99_target_ms=15,
        ),
        Scenario(
            "detail (random id)",
            "/api/jobs/",
            lua="detail.lua",
            pgbench_sql=random_id + statements["detail"],
            p99_target_ms=15,
            rps_target=2000,
        ),
        Scenario(
            "history (random id)",
            "/api/jobs/",
            lua="history.lua",
            pgbench_sql=random_id + statements["history"],
            p99_target_ms=15,
        ),
        Scenario("summary", "/api/jobs/summary/", pgbench_sql=statements["summary"]),
        *(
            Scenario(name, f"/api/jobs/stats/?{query}", pgbench_sql=statements["stats"][query])
            for name, query in STATS
        ),
        Scenario(
            "detail, 304 revalidation",
            f"/api/jobs/{job_id}/",
            headers={"If-None-Match": etag},
        ),
        Scenario("PATCH (random id)", "/api/jobs/", lua="patch.lua", rps_target=500),
        Scenario("write mix: POST and PATCH", "/api/jobs/", lua="write_mix.lua"),
    ]


def _cpu_table(rows) -> list[str]:  # type: ignore[no-untyped-def]
    """Where each request's CPU went in the same wrk runs: the machine's two cores are
    shared by all of these, so their sum per request bounds the requests per second."""
    measured = [(scenario, m.cpu) for scenario, m in rows if m.cpu]
    if not measured:
        return []
    parts = list(measured[0][1].ms_per_request)
    lines = [
        "",
        "CPU per request in the same median rounds, in ms (user + system time of each part's "
        "processes; the rest of the machine's busy time is wrk and the kernel's share of "
        "loopback networking):",
        "",
        f"| scenario | {' | '.join(parts)} | sum | machine busy |",
        f"|---|{'---:|' * (len(parts) + 2)}",
    ]
    for scenario, cpu in measured:
        values = [cpu.ms_per_request[part] for part in parts]
        lines.append(
            f"| {scenario.name} | {' | '.join(f'{v:.2f}' for v in values)} | "
            f"{sum(values):.2f} | {cpu.busy:.0%} |"
        )
    return lines


def explain(conn: psycopg.Connection, pgbench_sql: str, *, job_id: int) -> str:
    """The executed plan of a scenario's SQL on the seeded data (EXPLAIN ANALYZE, buffers,
    no timing per node), so that "as fast a million jobs deep" and "a count costs
    nothing" are shown at a million rows, next to the figures, not only on test tables.
    The pgbench script's variables become one real job. Its values are written in, so
    this is the plan PostgreSQL picks knowing them; the query service runs the generic
    plan of the same statement, which can differ (docs/decisions.md, "Random pages
    priced as cached"): its tests read the generic plans of the shapes that matter."""
    sql = (
        "\n".join(line for line in pgbench_sql.splitlines() if not line.startswith("\\set"))
        .rstrip()
        .rstrip(";")
    )
    sql = sql.replace(f":{JOB_ID_VARIABLE}", str(job_id))
    rows = conn.execute(f"EXPLAIN (ANALYZE, BUFFERS, TIMING OFF) {sql}").fetchall()  # type: ignore[arg-type]
    return "\n".join(row[0] for row in rows)


def _plans_section(plans: dict[str, str], *, jobs: int) -> str:
    lines = [
        "",
        "## The plans behind the figures",
        "",
        f"EXPLAIN (ANALYZE, BUFFERS) of each scenario's statement at {jobs:,} jobs, as the "
        "query role, taken right after the runs above: rows read and buffers touched per "
        "node show what a page costs at this size (a deep cursor page or a count reads no "
        "more than a first page). The values are written in, as pgbench runs them; the "
        "service runs the same statements on their generic plans.",
        "",
    ]
    for name, plan in plans.items():
        lines += [f"### {name}", "", "```", plan, "```", ""]
    return "\n".join(lines)


def _report(rows, rss, *, jobs: int, events: int, pg_version: str) -> str:  # type: ignore[no-untyped-def]
    lines = [
        "# Benchmarks",
        "",
        f"Measured by `make bench` on {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC, against the "
        f"stack of `make up` seeded with `make seed`: {jobs:,} jobs, {events:,} events.",
        f"wrk through the gateway, {CONNECTIONS} connections, 2 threads, {SECONDS} s per run, "
        f"{ROUNDS} rounds of every scenario: each row is the scenario's median round (errors: "
        "all rounds; range: the lowest and highest req/s of its rounds). The ceiling is "
        "pgbench running the same SQL in PostgreSQL "
        f"{pg_version} alone (prepared, {CONNECTIONS} clients), as the query role.",
        "",
        *_machine(),
        "- Everything on this one machine: wrk, nginx, both gunicorns, PostgreSQL.",
        "",
        "| scenario | req/s | range | p50 ms | p99 ms | errors | ceiling (pgbench tps) | ratio "
        "| target |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for scenario, m in rows:
        targets = []
        if scenario.rps_target:
            verdict = "met" if m.rps >= scenario.rps_target else "MISSED"
            targets.append(f"{verdict} >= {scenario.rps_target:.0f}/s")
        if scenario.p99_target_ms:
            verdict = "met" if m.p99_ms < scenario.p99_target_ms else "MISSED"
            targets.append(f"{verdict} p99 < {scenario.p99_target_ms:.0f} ms")
        ceiling = f"{m.ceiling_tps:,.0f}" if m.ceiling_tps else "-"
        ratio = f"{m.rps / m.ceiling_tps:.2f}" if m.ceiling_tps else "-"
        spread = f"{m.rps_range[0]:,.0f}-{m.rps_range[1]:,.0f}" if m.rps_range else "-"
        lines.append(
            f"| {scenario.name} | {m.rps:,.0f} | {spread} | {m.p50_ms:.2f} | {m.p99_ms:.2f} | "
            f"{m.errors} | {ceiling} | {ratio} | {'; '.join(targets) or '-'} |"
        )
    lines += _cpu_table(rows)
    lines += [
        "",
        "Resident memory of each gunicorn worker after the run (target: under 150 MB):",
        "",
    ]
    for name, sizes in rss.items():
        verdict = "met" if sizes and max(sizes) < 150 else "MISSED"
        lines.append(f"- {name}: {', '.join(f'{s} MB' for s in sizes)} ({verdict})")
    lines.append("")
    return "\n".join(lines)
