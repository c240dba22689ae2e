"""Idempotency-Key and If-Match through the gateway: the two services agree on both."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.contract.helpers import (
    await_condition,
    command_backends_waiting_on_a_lock,
    create_job,
    run_in_threads,
)


def test_the_query_sides_etag_is_what_the_command_side_checks(api):
    job = create_job(api, "conditional")
    path = f"/api/jobs/{job['id']}/"
    etag = api.get(path).headers["ETag"]

    assert api.get(path, headers={"If-None-Match": etag}).status_code == 304
    patched = api.patch(path, json={"status_type": "RUNNING"}, headers={"If-Match": etag})
    assert patched.status_code == 200
    new_etag = patched.headers["ETag"]
    assert new_etag != etag
    assert api.get(path).headers["ETag"] == new_etag

    stale = api.patch(path, json={"status_type": "FAILED"}, headers={"If-Match": etag})
    assert stale.status_code == 412
    assert new_etag in stale.json()["detail"]
    assert api.delete(path, headers={"If-Match": etag}).status_code == 412
    assert api.get(path).json()["current_status_type"] == "RUNNING"
    assert api.delete(path, headers={"If-Match": new_etag}).status_code == 204


IN_FLIGHT = "https://jobs.example/problems/idempotency-key-in-flight"


def _jobs_named(admin_db, name: str) -> int:
    return admin_db.execute("SELECT count(*) FROM jobs_job WHERE name = %s", [name]).fetchone()[0]


def test_a_retried_post_with_its_key_creates_one_job(api, admin_db):
    key = str(uuid.uuid4())
    name = f"pay-once-{key}"
    first = api.post("/api/jobs/", json={"name": name}, headers={"Idempotency-Key": key})
    retry = api.post("/api/jobs/", json={"name": name}, headers={"Idempotency-Key": key})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = api.post("/api/jobs/", json={"name": "other"}, headers={"Idempotency-Key": key})
    assert other.status_code == 422
    assert _jobs_named(admin_db, name) == 1


def test_a_duplicate_while_the_first_is_inside_its_transaction_is_a_409_at_once(
    api, system, admin_db, observer_db
):
    """The first POST is held inside its transaction, after it took its key's advisory
    lock, by a table lock this test holds. The duplicate must be refused at once (409,
    Retry-After: 1), not wait behind it; released, the first creates the one job."""
    key = str(uuid.uuid4())
    name = f"in-flight-{key}"

    def post_first() -> httpx.Response:
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            return client.post("/api/jobs/", json={"name": name}, headers={"Idempotency-Key": key})

    pool = ThreadPoolExecutor(max_workers=1)
    try:
        with admin_db.transaction():
            admin_db.execute("LOCK TABLE jobs_job IN SHARE ROW EXCLUSIVE MODE")
            first = pool.submit(post_first)
            await_condition(
                lambda: command_backends_waiting_on_a_lock(observer_db) == 1,
                timeout=10,
                what="the first POST waiting on the jobs table inside its transaction",
            )
            # A duplicate that waited for the first would time out here.
            duplicate = api.post(
                "/api/jobs/", json={"name": name}, headers={"Idempotency-Key": key}, timeout=5
            )
            first_still_held = command_backends_waiting_on_a_lock(observer_db)
        first_response = first.result(timeout=30)
    finally:
        pool.shutdown(wait=False, cancel_futures=True)

    assert duplicate.status_code == 409, duplicate.text
    assert duplicate.json()["type"] == IN_FLIGHT
    assert duplicate.headers["Retry-After"] == "1"
    assert first_still_held == 1
    assert first_response.status_code == 201, first_response.text
    assert _jobs_named(admin_db, name) == 1
    replay = api.post("/api/jobs/", json={"name": name}, headers={"Idempotency-Key": key})
    assert replay.status_code == 201
    assert replay.json()["id"] == first_response.json()["id"]
    assert replay.headers["Idempotent-Replayed"] == "true"


def test_concurrent_duplicates_create_one_job_and_get_its_response_or_a_409(system, admin_db):
    key = str(uuid.uuid4())
    name = f"burst-{key}"

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            return client.post("/api/jobs/", json={"name": name}, headers={"Idempotency-Key": key})

    responses = run_in_threads(post, range(16), workers=8, timeout=60)

    statuses = {r.status_code for r in responses}
    assert statuses <= {201, 409}, statuses
    created = [r.json() for r in responses if r.status_code == 201]
    assert created and all(body == created[0] for body in created)
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.headers["Retry-After"] == "1"
    assert _jobs_named(admin_db, name) == 1
