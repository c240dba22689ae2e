"""Faults under traffic: the database away and back, a service stopped with requests in flight."""

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.contract.helpers import invariant_violations


@pytest.fixture
def database_down(system):
    """Stop PostgreSQL for a test, and always start it again."""
    system.postgres.stop()
    try:
        yield system.postgres
    finally:
        system.postgres.start()


def timed(call):
    started = time.monotonic()
    response = call()
    return response, time.monotonic() - started


def test_with_the_database_down_both_services_answer_503_within_2s_then_recover(
    api, system, database_down
):
    for call in (
        lambda: api.get("/api/jobs/"),
        # A search quotes its term for the connection before it reads (selectors).
        lambda: api.get("/api/jobs/", params={"search": "etl"}),
        lambda: api.get("/api/jobs/1/"),
        lambda: api.post("/api/jobs/", json={"name": "during-outage"}),
        lambda: api.patch("/api/jobs/1/", json={"status_type": "RUNNING"}),
    ):
        response, seconds = timed(call)
        assert response.status_code == 503, response.text
        assert response.json()["type"] == "https://jobs.example/problems/service-unavailable"
        assert response.headers["Retry-After"] == "1"
        assert seconds < 2, seconds
    for service in system.services.values():
        assert httpx.get(f"{service.url}/readyz", timeout=5).status_code == 503

    database_down.start()
    deadline = time.monotonic() + 15
    statuses: tuple[int, int] = (0, 0)
    while time.monotonic() < deadline and statuses != (200, 201):
        statuses = (
            api.get("/api/jobs/").status_code,
            api.post("/api/jobs/", json={"name": "after-outage"}).status_code,
        )
        time.sleep(0.2)
    assert statuses == (200, 201), "the services did not recover by themselves"


def test_a_read_the_statement_timeout_stops_is_a_503_without_retry_after(api, admin_db):
    """A read held past the query service's 2 s statement timeout (here by a lock) is a
    `query-timeout`: the same read would take as long again, so the gateway must not add
    the Retry-After it gives a database outage."""
    with admin_db.transaction():
        admin_db.execute("LOCK TABLE jobs_job IN ACCESS EXCLUSIVE MODE")
        response = api.get("/api/jobs/1/")
    assert response.status_code == 503, response.text
    assert response.json()["type"] == "https://jobs.example/problems/query-timeout"
    assert "Retry-After" not in response.headers


def test_sigterm_lets_in_flight_writes_finish_and_loses_no_acknowledged_write(system, admin_db):
    acknowledged: list[int] = []
    statuses: list[int] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + 3

    def write(worker: int) -> None:
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            n = 0
            while time.monotonic() < stop_at:
                response = client.post("/api/jobs/", json={"name": f"sigterm-{worker}-{n}"})
                with lock:
                    statuses.append(response.status_code)
                    if response.status_code == 201:
                        acknowledged.append(response.json()["id"])
                n += 1

    try:
        with ThreadPoolExecutor(max_workers=6) as pool:
            futures = [pool.submit(write, worker) for worker in range(6)]
            time.sleep(1)
            system.services["command"].stop()  # SIGTERM, then waits for the exit
            for future in futures:
                future.result()
    finally:
        system.services["command"].start()

    assert set(statuses) <= {201, 502}, set(statuses)
    assert 201 in statuses and 502 in statuses
    stored = admin_db.execute(
        "SELECT count(*) FROM jobs_job WHERE id = ANY(%s)", [acknowledged]
    ).fetchone()[0]
    assert stored == len(acknowledged)
    assert invariant_violations(admin_db) == dict.fromkeys(invariant_violations(admin_db), 0)
