"""Two query instances behind a gateway of their own, started by the launcher's code on
free ports (from the test stack's + 30 on) with the test stack's database and command service:
reads spread over both, one stopped under read load costs no read after the first
failure, and a restarted one takes reads again without a reload of the gateway."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from stack.processes import Gateway, Service, read_pid
from stack.system import System
from tests.contract.helpers import free_from

THREADS = 4
READS_PER_THREAD = 300


@dataclasses.dataclass
class Pair:
    gateway: Gateway
    instances: list[Service]

    @property
    def url(self) -> str:
        return self.gateway.config.gateway_url

    @property
    def access_log(self) -> Path:
        return self.gateway.config.logs_dir / "gateway-access.log"

    def upstreams_since(self, offset: int) -> list[str]:
        """The `upstream` of each access-log line after `offset` bytes (a retried request
        names both instances, comma-separated)."""
        with self.access_log.open("rb") as log:
            log.seek(offset)
            return [json.loads(line)["upstream"] for line in log.read().splitlines() if line]

    def log_size(self) -> int:
        return self.access_log.stat().st_size if self.access_log.exists() else 0

    def gateway_workers(self) -> set[int]:
        """nginx's worker processes: a reload replaces them."""
        master = read_pid(self.gateway.pid_file)
        workers = set()
        for proc in Path("/proc").iterdir():
            if proc.name.isdigit():
                try:
                    parent = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
                if parent == master:
                    workers.add(int(proc.name))
        return workers


@pytest.fixture
def pair(system: System, tmp_path: Path) -> Iterator[Pair]:
    config = dataclasses.replace(
        system.config,
        state_dir=tmp_path,
        gateway_port=free_from(system.config.gateway_port + 30, count=1),
        query_port=free_from(system.config.query_port + 30, count=2),
        query_instances=2,
    )
    env = system.service_env("query")
    instances = [Service("query", config, env, instance=k) for k in range(2)]
    gateway = Gateway(config)
    started: list[Service | Gateway] = []
    try:
        parts: list[Service | Gateway] = [*instances, gateway]
        for part in parts:
            started.append(part)
            part.start()
        yield Pair(gateway, instances)
    finally:
        for part in reversed(started):
            part.stop()


def served_by(upstreams: list[str], port: int) -> int:
    """How many requests the instance on `port` answered (the last address of a line)."""
    return sum(1 for line in upstreams if line.rsplit(", ", 1)[-1] == f"127.0.0.1:{port}")


def test_reads_spread_over_every_query_instance(pair):
    offset = pair.log_size()
    with httpx.Client(base_url=pair.url, timeout=10) as client:
        statuses = [client.get("/api/jobs/", params={"limit": 5}).status_code for _ in range(40)]
    assert statuses == [200] * 40
    upstreams = pair.upstreams_since(offset)
    counts = {service.name: served_by(upstreams, service.port) for service in pair.instances}
    assert all(count >= 10 for count in counts.values()), f"requests per instance: {counts}"


@pytest.mark.parametrize("stop", ["SIGKILL", "SIGTERM"])
def test_a_query_instance_stopped_under_read_load_fails_no_read_after_the_first(pair, stop):
    """4 clients read 300 times each through the gateway; one of the two instances is
    stopped after a quarter of the reads (SIGKILL to its gunicorn's process group: a crash;
    or SIGTERM, as `make down` stops it). A read in flight at that moment may fail; after
    the first failure none may. Then it starts again and takes reads again, with the
    gateway's same worker processes (no reload)."""
    victim, survivor = pair.instances
    workers_before = pair.gateway_workers()
    outcomes: list[tuple[float, str]] = []  # (finished at, "ok" or what went wrong)
    lock = threading.Lock()
    quarter = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=pair.url, timeout=10) as client:
            for _ in range(READS_PER_THREAD):
                try:
                    response = client.get("/api/jobs/", params={"limit": 5})
                    outcome = "ok" if response.status_code == 200 else str(response.status_code)
                except httpx.HTTPError as error:
                    outcome = type(error).__name__
                with lock:
                    outcomes.append((time.monotonic(), outcome))
                    if len(outcomes) >= THREADS * READS_PER_THREAD // 4:
                        quarter.set()

    offset = pair.log_size()
    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        readers = [pool.submit(reader) for _ in range(THREADS)]
        assert quarter.wait(timeout=120), "the reads did not get going"
        stopped_at = time.monotonic()
        if stop == "SIGKILL":
            # gunicorn --daemon runs in a session of its own: its group is it and its workers.
            group = os.getpgid(read_pid(victim.pid_file))  # type: ignore[arg-type]
            assert group != os.getpgrp()
            os.killpg(group, signal.SIGKILL)
        else:
            victim.stop()
        for future in readers:
            future.result(timeout=240)
    upstreams = pair.upstreams_since(offset)

    failures = [(at, outcome) for at, outcome in outcomes if outcome != "ok"]
    after_first = [outcome for at, outcome in failures if at > failures[0][0]] if failures else []
    after_stop = sum(1 for at, _ in outcomes if at > stopped_at)
    seen = (
        f"{len(outcomes)} reads, {after_stop} of them finished after the {stop}; "
        f"{len(failures)} failed ({[outcome for _, outcome in failures]}), "
        f"{len(after_first)} after the first failure; answered per instance: "
        f"{victim.name} {served_by(upstreams, victim.port)}, "
        f"{survivor.name} {served_by(upstreams, survivor.port)}"
    )
    assert len(outcomes) == THREADS * READS_PER_THREAD, seen
    assert after_first == [], seen
    assert len(failures) <= THREADS, seen
    assert after_stop >= THREADS * READS_PER_THREAD // 2, seen
    assert served_by(upstreams, victim.port) > 0 and served_by(upstreams, survivor.port) > 0, seen

    # Back: the gateway gives the instance a request again once its fail_timeout is over.
    victim.stop()  # after a SIGKILL: only its stale pid file is left
    victim.start()
    offset = pair.log_size()
    back = 0
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=pair.url, timeout=10) as client:
        while back < 5 and time.monotonic() < deadline:
            assert client.get("/api/jobs/", params={"limit": 5}).status_code == 200
            back = served_by(pair.upstreams_since(offset), victim.port)
            time.sleep(0.05)
    assert back >= 5, f"{victim.name} answered {back} reads within 30 s of its restart"
    assert pair.gateway_workers() == workers_before, "the gateway was reloaded"
