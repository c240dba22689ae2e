"""`make bench SET=replicas`: the read side's scale-out on a seeded stack started with
`QUERY_INSTANCES=2 READ_REPLICAS=1` (docs/benchmarks-replicas.md is its output).

Every comparison is side by side in one run, alternating, never against another day's
figures (docs/performance.md):
- reads from the standby against reads from the primary: query instance 0 (it reads the
  standby) against one more instance of the same code started on the primary alone, each
  hit directly with wrk, so both arms are one gunicorn of the same size;
- the Consistency-Token's cost: the same read of the standby with a current token and
  without one;
- read-after-write through the gateway: PATCH, then a GET with the write's token, timed,
  with how each token was answered (the query instances' logs);
- the gateway cache: the list's first page, the summary and 1,000 distinct list pages
  through a gateway with GATEWAY_CACHE_SECONDS=1 against the same without, with the
  cache's hit ratio from its access log;
- the standby's replay lag while wrk runs the write mix, sampled from pg_stat_replication.
Each wrk run also gives the CPU per request of each part (the query instance, the
primary, the standby): on this machine's two cores more instances cannot add throughput,
so that split is what says what more cores would give.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import shutil
import statistics
import threading
import time
from pathlib import Path

import httpx
import psycopg

from stack.bench import (
    ROUNDS,
    CpuMeter,
    Measured,
    Scenario,
    _machine,
    _wrk,
    server_pid,
)
from stack.config import REPO_ROOT, StackConfig, throwaway_state_dir
from stack.processes import Gateway, Service, read_pid
from stack.system import System
from stack.tools import StackError, wrk_binary

RESULTS_PATH = REPO_ROOT / "docs" / "benchmarks-replicas.md"
CYCLES = 300


def _primary_reader(system: System) -> Service:
    """One more query instance of the stack's code, reading the primary alone, on
    QUERY_PORT + 50."""
    service = system.primary_reader(system.config.query_port + 50)
    service.start()
    return service


def _current_token(system: System, job_id: int) -> str:
    """A token of a write the standby has replayed (a PATCH, then wait for lag 0)."""
    write = httpx.patch(
        f"{system.services['command'].url}/api/jobs/{job_id}/",
        json={"status_type": "RUNNING"},
        timeout=10,
    )
    write.raise_for_status()
    time.sleep(system.config.standby_apply_delay_ms / 1000 + 1.5)
    return write.headers["Consistency-Token"]


def _pairs(standby_url: str, primary_url: str, token: str) -> list[tuple[str, Scenario, str]]:
    """(name, scenario, base URL): the arms compared, in the order they alternate."""
    first_page = Scenario("list, first page", "/api/jobs/")
    detail = Scenario("detail (random id)", "/api/jobs/", lua="detail.lua")
    summary = Scenario("summary", "/api/jobs/summary/")
    with_token = dataclasses.replace(first_page, headers={"Consistency-Token": token})
    return [
        ("list, first page: standby", first_page, standby_url),
        ("list, first page: primary", first_page, primary_url),
        ("detail (random id): standby", detail, standby_url),
        ("detail (random id): primary", detail, primary_url),
        ("summary: standby", summary, standby_url),
        ("summary: primary", summary, primary_url),
        ("list, first page on the standby: no token", first_page, standby_url),
        ("list, first page on the standby: current token", with_token, standby_url),
    ]


def _read_after_write(system: System, job_id: int) -> dict[str, object]:
    """CYCLES PATCHes through the gateway, each followed by a GET of the job's history
    with the write's token: latencies of the GET and of the whole cycle, and how the
    query instances answered the tokens."""
    offsets = {s.log: s.log.stat().st_size for s in system.services.values() if s.kind == "query"}
    reads, cycles, stale = [], [], 0
    with httpx.Client(base_url=system.config.gateway_url, timeout=10) as client:
        for number in range(CYCLES):
            status = ("RUNNING", "COMPLETED")[number % 2]
            started = time.perf_counter()
            write = client.patch(f"/api/jobs/{job_id}/", json={"status_type": status})
            write.raise_for_status()
            read_started = time.perf_counter()
            read = client.get(
                f"/api/jobs/{job_id}/statuses/",
                params={"limit": 1},
                headers={"Consistency-Token": write.headers["Consistency-Token"]},
            )
            done = time.perf_counter()
            read.raise_for_status()
            stale += read.json()["results"][0]["status_type"] != status
            reads.append((done - read_started) * 1000)
            cycles.append((done - started) * 1000)
    return {
        "read": _percentiles(reads),
        "cycle": _percentiles(cycles),
        "stale": stale,
        "answered": _token_outcomes(offsets),
    }


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50": round(statistics.median(ordered), 2),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 2),
    }


def _token_outcomes(offsets: dict[Path, int]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for log, offset in offsets.items():
        with log.open("rb") as file:
            file.seek(offset)
            for line in file.read().splitlines():
                if line.startswith(b"{") and b'"consistency"' in line:
                    outcome = json.loads(line).get("consistency")
                    if outcome:
                        counts[outcome] = counts.get(outcome, 0) + 1
    return counts


def _cache_gateway(lifted: StackConfig) -> Gateway:
    """A second gateway in front of the same instances, alike but for a 1 s cache, on
    GATEWAY_PORT + 50 with a state folder of its own (nginx's workers must read it)."""
    config = dataclasses.replace(
        lifted,
        state_dir=throwaway_state_dir("jobs-bench-cache-"),
        gateway_port=lifted.gateway_port + 50,
        gateway_cache_seconds=1,
    )
    gateway = Gateway(config)
    gateway.start()
    return gateway


def _cache_pairs(off_url: str, on_url: str) -> list[tuple[str, Scenario, str]]:
    same_page = Scenario("list, first page", "/api/jobs/")
    summary = Scenario("summary", "/api/jobs/summary/")
    distinct = Scenario("list, 1,000 distinct pages", "/api/jobs/", lua="distinct_pages.lua")
    return [
        (f"{scenario.name}: {arm}", scenario, url)
        for scenario in (same_page, summary, distinct)
        for arm, url in (("cache off", off_url), ("cache on (1 s)", on_url))
    ]


def _cache_status(gateway: Gateway, offset: int) -> dict[str, int]:
    """How the gateway's access log lines after `offset` used the cache."""
    counts: dict[str, int] = {}
    with (gateway.config.logs_dir / "gateway-access.log").open("rb") as log:
        log.seek(offset)
        for line in log.read().splitlines():
            status = json.loads(line).get("cache") or "none"
            counts[status] = counts.get(status, 0) + 1
    return counts


def _lag_under_writes(system: System, url: str, meter: CpuMeter) -> dict[str, object]:
    """The write mix through `url` for one wrk run, while the standby's lag (bytes behind
    the primary's current position, and pg_stat_replication's replay_lag) is sampled every
    50 ms."""
    samples: list[tuple[int, float]] = []
    done = threading.Event()

    def sample() -> None:
        with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
            while not done.is_set():
                row = conn.execute(
                    "SELECT (pg_current_wal_lsn() - replay_lsn)::bigint, "
                    "coalesce(extract(epoch FROM replay_lag), 0)::float8 "
                    "FROM pg_stat_replication LIMIT 1"
                ).fetchone()
                if row is not None and row[0] is not None:
                    samples.append((int(row[0]), float(row[1])))
                time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        env = {**os.environ, "BENCH_MAX_ID": os.environ["BENCH_MAX_ID"]}
        writes = _wrk(
            url, Scenario("write mix", "/api/jobs/", lua="write_mix.lua"), env, meter, warm_up=False
        )
    finally:
        done.set()
        sampler.join()
    lag_bytes = sorted(b for b, _ in samples)
    lag_seconds = sorted(s for _, s in samples)
    return {
        "writes_per_s": round(writes.rps),
        "samples": len(samples),
        "bytes": {"p50": statistics.median(lag_bytes), "max": lag_bytes[-1]} if samples else {},
        "seconds": {
            "p50": round(statistics.median(lag_seconds), 4),
            "max": round(lag_seconds[-1], 4),
        }
        if samples
        else {},
    }


def _seeded(system: System) -> tuple[int, int]:
    """(jobs, highest id) of the stack's data; refuses a stack that is not what the set
    needs."""
    config = system.config
    if config.read_replicas < 1 or config.query_instances < 2:
        raise StackError(
            "the replicas bench needs the stack started with QUERY_INSTANCES=2 READ_REPLICAS=1"
        )
    with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
        max_id = conn.execute("SELECT max(id) FROM jobs_job").fetchone()[0]  # type: ignore[index]
        jobs = conn.execute("SELECT count(*) FROM jobs_job").fetchone()[0]  # type: ignore[index]
    if not max_id or jobs < 1000:
        raise StackError("seed the stack first: make seed JOBS=1000000")
    return jobs, max_id


def _rounds(
    pairs: list[tuple[str, Scenario, str]], meter: CpuMeter, cache: Gateway | None = None
) -> tuple[dict[str, list[Measured]], dict[str, dict[str, int]]]:
    """ROUNDS alternating rounds of every arm; with `cache`, how each run through it used
    the cache (no warm-up there, so the counts are the measured requests')."""
    rounds: dict[str, list[Measured]] = {name: [] for name, _, _ in pairs}
    used: dict[str, dict[str, int]] = {}
    log = None if cache is None else cache.config.logs_dir / "gateway-access.log"
    for number in range(1, ROUNDS + 1):
        for name, scenario, url in pairs:
            print(f"  round {number}/{ROUNDS}: {name} ...", flush=True)
            through_cache = cache is not None and url == cache.config.gateway_url
            offset = log.stat().st_size if through_cache and log and log.exists() else 0
            warm_up = number == 1 and not through_cache
            rounds[name].append(_wrk(url, scenario, dict(os.environ), meter, warm_up=warm_up))
            if through_cache and cache is not None:
                for status, count in _cache_status(cache, offset).items():
                    totals = used.setdefault(name, {})
                    totals[status] = totals.get(status, 0) + count
    return rounds, used


def run_replica_bench(system: System) -> int:
    jobs, max_id = _seeded(system)
    wrk_binary()
    os.environ["BENCH_MAX_ID"] = str(max_id)
    lifted = dataclasses.replace(system.config, rate_limit=1_000_000, rate_burst=1_000_000)
    bench_gateway = Gateway(lifted)
    started: list[Service | Gateway] = []
    try:
        started.append(primary_reader := _primary_reader(system))
        system.gateway.stop()
        bench_gateway.start()
        started.append(bench_gateway)
        started.append(cache_gateway := _cache_gateway(lifted))
        standby = system.services["query"]
        meter = CpuMeter(
            {
                "query 0 (standby)": read_pid(standby.pid_file),
                "query 1 (standby)": read_pid(system.services["query-1"].pid_file),
                "query (primary)": read_pid(primary_reader.pid_file),
                "primary": server_pid(system.postgres.data),
                "standby": server_pid(system.standbys.wanted[0].data),
                "gateway": read_pid(bench_gateway.pid_file),
                "gateway (cache)": read_pid(cache_gateway.pid_file),
            }
        )
        token = _current_token(system, max_id // 2)
        rounds, _ = _rounds(_pairs(standby.url, primary_reader.url, token), meter)
        cache_pairs = _cache_pairs(lifted.gateway_url, cache_gateway.config.gateway_url)
        cache_rounds, cache_used = _rounds(cache_pairs, meter, cache_gateway)
        print("  read-after-write ...", flush=True)
        after_write = _read_after_write(system, max_id // 3)
        print("  replica lag under the write mix ...", flush=True)
        lag = _lag_under_writes(system, lifted.gateway_url, meter)
    finally:
        for part in reversed(started):
            part.stop()
            if part is not bench_gateway:  # the extra parts' own throwaway folders
                shutil.rmtree(part.config.state_dir, ignore_errors=True)
        system.gateway.start()
    report = _report({**rounds, **cache_rounds}, after_write, lag, jobs=jobs)
    report += _cache_report(cache_used)
    print(report)
    RESULTS_PATH.write_text(report)
    print(f"written to {RESULTS_PATH.relative_to(REPO_ROOT)}")
    return 0


def _cache_report(used: dict[str, dict[str, int]]) -> str:
    lines = ["", "How the cached gateway's requests used its cache (all rounds):", ""]
    for name, counts in used.items():
        total = sum(counts.values())
        hits = counts.get("HIT", 0)
        ratio = f"{hits / total:.4f}" if total else "?"
        lines.append(f"- {name}: hit ratio {ratio} of {total:,} requests; {counts}")
    return "\n".join([*lines, ""])


def _median(runs: list[Measured]) -> Measured:
    return sorted(runs, key=lambda run: run.rps)[len(runs) // 2]


def _cpu(run: Measured) -> str:
    if run.cpu is None:
        return "?"
    return ", ".join(
        f"{name} {ms:.2f}" for name, ms in run.cpu.ms_per_request.items() if ms >= 0.005
    )


def _p(values: dict[str, float]) -> str:
    return f"p50 {values['p50']} ms, p99 {values['p99']} ms"


def _report(rounds, after_write, lag, *, jobs: int) -> str:  # type: ignore[no-untyped-def]
    lines = [
        "# Benchmarks of the read side's scale-out (`make bench SET=replicas`)",
        "",
        f"Run {dt.datetime.now(dt.UTC):%Y-%m-%d %H:%M} UTC on a stack with QUERY_INSTANCES=2 "
        f"READ_REPLICAS=1, {jobs:,} jobs. wrk, 8 connections: standby against primary and "
        "the token rows straight to one query instance (2 workers x 4 threads) each; the "
        "cache rows through a gateway over both instances, the same gateway with a 1 s "
        f"cache beside it. {ROUNDS} alternating rounds, median round shown with the range "
        "of all rounds. CPU: milliseconds per request of each part during the median run.",
        "",
        *_machine(),
        "",
        "| scenario | req/s (median) | range | p50 ms | p99 ms | errors | CPU ms/request |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, runs in rounds.items():
        median = _median(runs)
        low, high = min(r.rps for r in runs), max(r.rps for r in runs)
        errors = sum(r.errors for r in runs)
        lines.append(
            f"| {name} | {median.rps:.0f} | {low:.0f}-{high:.0f} | {median.p50_ms:.2f} "
            f"| {median.p99_ms:.2f} | {errors} | {_cpu(median)} |"
        )
    lines += ["", "Ratios, round by round (same round, side by side):", ""]
    names = list(rounds)
    for first, second in zip(names[::2], names[1::2], strict=True):
        ratios = [a.rps / b.rps for a, b in zip(rounds[first], rounds[second], strict=True)]
        lines.append(f"- {first} / {second}: " + ", ".join(f"{r:.2f}" for r in ratios))
    lines += [
        "",
        f"Read-after-write through the gateway, {CYCLES} cycles (PATCH, then GET of the "
        "history with the write's token):",
        "",
        f"- GET with the token: {_p(after_write['read'])}",
        f"- whole cycle: {_p(after_write['cycle'])}",
        f"- stale answers: {after_write['stale']}; tokens answered: {after_write['answered']}",
        "",
        f"Standby replay lag while wrk ran the write mix through the gateway "
        f"({lag['writes_per_s']} writes/s, {lag['samples']} samples every 50 ms): "
        f"bytes behind {lag['bytes']}, pg_stat_replication replay_lag seconds {lag['seconds']}.",
        "",
    ]
    return "\n".join(lines)
