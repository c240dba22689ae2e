"""Reads from a streaming standby, through a gateway over two query instances: a whole
stack of its own (primary, one standby whose replay is held back 300 ms on purpose, the
command service, two query instances reading the standby, a gateway), started by the
launcher's code on free ports and removed at the end.

What a client is promised (docs/decisions.md, "Reads from standbys"): a read that sends
the Consistency-Token of a write sees that write; one without a token may be up to
Data-Staleness seconds behind; a standby that goes away costs no read; a primary that goes
away leaves the reads answering and the writes refused."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from django.core import signing

from stack.config import throwaway_state_dir
from stack.processes import Gateway, Service
from stack.system import System
from tests.contract.helpers import await_condition, free_from
from tests.replicated_stack import replicated_stack

APPLY_DELAY_MS = 300
CYCLES = 500
THREADS = 5
TOKEN = "Consistency-Token"


@dataclasses.dataclass
class Replicated:
    system: System
    client: httpx.Client

    @property
    def query_logs(self) -> list[Path]:
        return [s.log for s in self.system.services.values() if s.kind == "query"]

    def log_offsets(self) -> list[int]:
        return [log.stat().st_size for log in self.query_logs]

    def requests_since(self, offsets: list[int]) -> list[dict]:
        """The query instances' request log lines written after `offsets`."""
        lines = []
        for log, offset in zip(self.query_logs, offsets, strict=True):
            with log.open("rb") as file:
                file.seek(offset)
                lines += [json.loads(x) for x in file.read().splitlines() if x.startswith(b"{")]
        return [line for line in lines if line.get("message") == "request"]

    def create(self, name: str) -> httpx.Response:
        response = self.client.post("/api/jobs/", json={"name": name})
        assert response.status_code == 201, response.text
        return response

    def forged_ahead_token(self) -> str:
        """A token signed with the stack's own key for a WAL position nothing has reached:
        what a client holds whose write the standby has not replayed yet."""
        key = self.system.secrets["secret_key"]
        return signing.Signer(key=key, salt="jobs.consistency-token", fallback_keys=[]).sign("FF/0")


@pytest.fixture(scope="module")
def replicated(system: System) -> Iterator[Replicated]:
    with (
        replicated_stack(system.config, port_offset=60, apply_delay_ms=APPLY_DELAY_MS) as stack,
        httpx.Client(base_url=stack.config.gateway_url, timeout=10) as client,
    ):
        yield Replicated(stack, client)


@pytest.fixture(scope="module")
def cached(replicated: Replicated) -> Iterator[httpx.Client]:
    """A second gateway over the same two instances with GATEWAY_CACHE_SECONDS=1."""
    base = replicated.system.config
    config = dataclasses.replace(
        base,
        state_dir=throwaway_state_dir("jobs-replicated-cache-"),
        gateway_port=free_from(base.gateway_port + 5, count=1),
        gateway_cache_seconds=1,
    )
    gateway = Gateway(config)
    gateway.start()
    try:
        with httpx.Client(base_url=config.gateway_url, timeout=10) as client:
            yield client
    finally:
        gateway.stop()
        shutil.rmtree(config.state_dir, ignore_errors=True)


def _cycle(stack: Replicated, job_id: int, number: int, *, with_token: bool, pause: float) -> bool:
    """One write then one read of what it changed; True when the read saw the write."""
    status = ("RUNNING", "COMPLETED", "FAILED", "PENDING")[number % 4]
    write = stack.client.patch(f"/api/jobs/{job_id}/", json={"status_type": status})
    assert write.status_code == 200, write.text
    time.sleep(pause)
    headers = {TOKEN: write.headers[TOKEN]} if with_token else {}
    read = stack.client.get(f"/api/jobs/{job_id}/statuses/", params={"limit": 1}, headers=headers)
    if read.status_code == 404 and not with_token:
        return False  # the job itself is not on the standby yet
    assert read.status_code == 200, read.text
    page = read.json()
    return page["count"] == number + 2 and page["results"][0]["status_type"] == status


def _cycles(stack: Replicated, *, with_token: bool, cycles: int) -> int:
    """`cycles` write-then-read cycles over THREADS clients, each on its own job; every
    other read waits 100 ms first, so some tokens are replayed within the wait and some
    are not. Returns how many reads did not see their write."""
    stale = Counter[str]()
    lock = threading.Lock()

    def client(thread: int) -> None:
        job_id = stack.create(f"replica-cycle-{with_token}-{thread}").json()["id"]
        for number in range(cycles // THREADS):
            seen = _cycle(stack, job_id, number, with_token=with_token, pause=0.1 * (number % 2))
            with lock:
                stale["stale" if not seen else "fresh"] += 1

    with ThreadPoolExecutor(THREADS) as pool:
        for finished in [pool.submit(client, k) for k in range(THREADS)]:
            finished.result()  # a client's failed assertion fails the test
    assert sum(stale.values()) == cycles
    return stale["stale"]


def test_a_read_with_its_writes_token_is_never_stale_and_takes_both_paths(replicated):
    offsets = replicated.log_offsets()
    stale = _cycles(replicated, with_token=True, cycles=CYCLES)
    taken = Counter(
        line.get("consistency")
        for line in replicated.requests_since(offsets)
        if line["method"] == "GET"
    )
    assert stale == 0, f"{stale} of {CYCLES} token-carrying reads missed their write"
    assert taken["waited"] > 0 and taken["primary"] > 0, f"paths taken: {dict(taken)}"
    assert taken["waited"] + taken["primary"] + taken["replayed"] == CYCLES, dict(taken)


def test_the_same_reads_without_the_token_are_stale(replicated):
    """The test above can fail: without the token the standby answers at once, 300 ms
    behind its primary."""
    stale = _cycles(replicated, with_token=False, cycles=50)
    assert stale >= 1, "50 reads right after their writes, none stale: the test proves nothing"


def test_answers_from_the_standby_say_how_stale_they_may_be(replicated):
    response = replicated.client.get("/api/jobs/summary/")
    assert response.status_code == 200
    assert 0 <= float(response.headers["Data-Staleness"]) <= 5


def test_an_answer_of_the_gateway_cache_says_nothing_of_a_read_it_did_not_make(cached):
    """A cached answer is as old as the cache's bound says; the Data-Staleness of the read
    that filled it would say less."""
    first = cached.get("/api/jobs/summary/")
    second = cached.get("/api/jobs/summary/")
    assert "Data-Staleness" in first.headers
    assert second.headers["ETag"] == first.headers["ETag"]
    assert "Data-Staleness" not in second.headers, "a cache hit repeated another read's bound"


def test_a_forged_token_is_a_400(replicated):
    token = replicated.create("replica-forged").headers[TOKEN]
    forged = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    response = replicated.client.get("/api/jobs/summary/", headers={TOKEN: forged})
    assert response.status_code == 400
    assert response.json()["type"].endswith("/consistency-token-invalid")


def _replica_reads_since(stack: Replicated, offsets: list[int]) -> int:
    lines = stack.requests_since(offsets)
    return sum(1 for line in lines if line.get("read_from") == "replica")


def _read_under_load(
    base_url: str | httpx.URL, during: Callable[[], None]
) -> tuple[Counter[str], Counter[str]]:
    """4 clients read the list 150 times each from `base_url`; `during` runs after a
    quarter of the reads. Returns the outcomes ("200", another status, or an error's name)
    and the Service-Mode of the 200s sent after `during` returned ("read-write" if none)."""
    outcomes = Counter[str]()
    modes_after = Counter[str]()
    lock = threading.Lock()
    quarter = threading.Event()
    after = threading.Event()

    def reader() -> None:
        with httpx.Client(base_url=base_url, timeout=10) as client:
            for _ in range(150):
                sent_after = after.is_set()
                mode = None
                try:
                    response = client.get("/api/jobs/", params={"limit": 5})
                    outcome = str(response.status_code)
                    if sent_after and response.status_code == 200:
                        mode = response.headers.get("Service-Mode", "read-write")
                except httpx.HTTPError as error:
                    outcome = type(error).__name__
                with lock:
                    outcomes[outcome] += 1
                    if mode is not None:
                        modes_after[mode] += 1
                    if outcomes.total() >= 150:
                        quarter.set()

    with ThreadPoolExecutor(4) as pool:
        readers = [pool.submit(reader) for _ in range(4)]
        assert quarter.wait(60), "the readers did not get going"
        during()
        after.set()
        for finished in readers:
            finished.result()
    return outcomes, modes_after


def test_a_standby_stopped_under_read_load_costs_no_read_and_is_read_again_once_back(
    replicated,
):
    standby = replicated.system.standbys.wanted[0]
    try:
        outcomes, _ = _read_under_load(replicated.client.base_url, standby.stop)
        assert outcomes == {"200": 600}, f"reads while the standby stopped: {dict(outcomes)}"
        offsets = replicated.log_offsets()
        for _ in range(20):
            assert replicated.client.get("/api/jobs/summary/").status_code == 200
        assert _replica_reads_since(replicated, offsets) == 0, "read a stopped standby"
    finally:
        standby.start()
    # Back without restarting anything: the instances measure it again within a second.
    deadline = time.monotonic() + 10
    offsets = replicated.log_offsets()
    while _replica_reads_since(replicated, offsets) == 0:
        assert time.monotonic() < deadline, "the standby was not read again within 10 s"
        assert replicated.client.get("/api/jobs/summary/").status_code == 200
        time.sleep(0.1)


def test_the_same_data_has_the_same_etags_and_counts_on_the_primary_and_the_standby(
    replicated,
):
    """Each instance reads its database directly: one of the stack's (the standby) and
    one more started on the primary alone."""
    system = replicated.system
    job = replicated.create("replica-etag").json()
    replicated.client.patch(f"/api/jobs/{job['id']}/", json={"status_type": "RUNNING"})
    on_primary = system.primary_reader(free_from(system.config.query_port + 10, count=1))
    try:
        on_primary.start()
        time.sleep(APPLY_DELAY_MS / 1000 + 0.5)
        paths = [
            "/api/jobs/?limit=5",
            "/api/jobs/summary/",
            f"/api/jobs/{job['id']}/",
            f"/api/jobs/{job['id']}/statuses/",
            "/api/jobs/?pagination=cursor&limit=3&status=RUNNING",
        ]
        standby_url = system.services["query"].url
        for path in paths:
            from_standby = httpx.get(standby_url + path, timeout=10)
            from_primary = httpx.get(on_primary.url + path, timeout=10)
            assert "Data-Staleness" in from_standby.headers, path
            assert "Data-Staleness" not in from_primary.headers, path
            assert from_standby.headers["ETag"] == from_primary.headers["ETag"], path
            assert from_standby.content == from_primary.content, path
    finally:
        on_primary.stop()
        shutil.rmtree(on_primary.config.state_dir, ignore_errors=True)


def test_reads_sent_to_the_primary_when_it_stops_go_on_from_the_standby(replicated):
    """An instance that reads the primary while it answers (MAX_REPLICA_LAG=0: no standby
    is ever fresh enough) has its reads routed there for up to a second after the primary
    stops: those whose primary fails them answer from the standby, read-only, not 503."""
    system = replicated.system
    config = dataclasses.replace(
        system.config,
        state_dir=throwaway_state_dir("jobs-eager-primary-reader-"),
        query_port=free_from(system.config.query_port + 12, count=1),
    )
    eager = Service("query", config, {**system.service_env("query"), "MAX_REPLICA_LAG": "0"})
    try:
        eager.start()
        before = httpx.get(f"{eager.url}/api/jobs/", timeout=10)
        assert "Data-Staleness" not in before.headers  # read from the primary
        outcomes, modes = _read_under_load(eager.url, system.postgres.stop)
    finally:
        system.postgres.start()
        eager.stop()
        shutil.rmtree(config.state_dir, ignore_errors=True)
    assert outcomes == {"200": 600}, f"reads while the primary stopped: {dict(outcomes)}"
    assert modes["read-only"] > 0, dict(modes)

    def write_again() -> httpx.Response | None:
        response = replicated.client.post("/api/jobs/", json={"name": "primary-back"})
        return response if response.status_code == 201 else None

    back = await_condition(write_again, timeout=10, what="writes go through once it is back")
    # The next test needs the standby streaming again (it reconnects within seconds): a
    # read with the new write's token answered from the standby shows it is.
    token = {TOKEN: back.headers[TOKEN]}
    await_condition(
        lambda: (
            "Data-Staleness" in replicated.client.get("/api/jobs/summary/", headers=token).headers
        ),
        timeout=20,
        what="the standby replays the primary's writes again",
    )


def test_with_the_primary_stopped_reads_go_on_read_only_and_writes_are_refused(replicated, cached):
    """Last: it stops the stack's primary. Nothing acknowledged before is lost. Through the
    cached gateway too, every read-only answer comes from a read made now, never stored."""
    system = replicated.system
    written = [replicated.create(f"replica-before-stop-{k}").json()["id"] for k in range(5)]
    last_token = replicated.create("replica-last-before-stop").headers[TOKEN]
    outcomes = Counter[str]()
    try:
        outcomes, _ = _read_under_load(replicated.client.base_url, system.postgres.stop)
        time.sleep(1.5)  # every instance has measured the primary away since
        read = replicated.client.get("/api/jobs/summary/")
        write = replicated.client.post("/api/jobs/", json={"name": "while-the-primary-is-away"})
        ahead = replicated.client.get(
            "/api/jobs/summary/", headers={TOKEN: replicated.forged_ahead_token()}
        )
        caught_up = replicated.client.get("/api/jobs/summary/", headers={TOKEN: last_token})
        through_cache = [cached.get("/api/jobs/summary/") for _ in range(3)]
    finally:
        system.postgres.start()
    assert outcomes == {"200": 600}, f"reads while the primary stopped: {dict(outcomes)}"
    assert read.status_code == 200 and read.headers.get("Service-Mode") == "read-only"
    assert write.status_code == 503 and write.headers["Retry-After"] == "1", write.text
    assert ahead.status_code == 503 and ahead.headers["Retry-After"] == "1", ahead.text
    assert ahead.json()["type"].endswith("/consistency-unavailable")
    assert caught_up.status_code == 200, caught_up.text
    for job_id in written:
        assert replicated.client.get(f"/api/jobs/{job_id}/").status_code == 200
    assert [r.headers.get("Service-Mode") for r in through_cache] == ["read-only"] * 3
    back = replicated.client.post("/api/jobs/", json={"name": "after-the-primary-is-back"})
    assert back.status_code == 201, back.text
    await_condition(
        lambda: "Service-Mode" not in cached.get("/api/jobs/summary/").headers,
        timeout=5,
        what="the cached gateway's answers stop saying read-only once the primary is back",
    )
