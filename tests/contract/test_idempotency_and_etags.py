"""Idempotency-Key and If-Match through the gateway: the two services agree on both."""

import uuid
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.contract.helpers import create_job


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


def test_a_retried_post_with_its_key_creates_one_job(api, admin_db):
    key = str(uuid.uuid4())
    first = api.post("/api/jobs/", json={"name": "pay-once"}, headers={"Idempotency-Key": key})
    retry = api.post("/api/jobs/", json={"name": "pay-once"}, headers={"Idempotency-Key": key})
    assert (first.status_code, retry.status_code) == (201, 201)
    assert retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    other = api.post("/api/jobs/", json={"name": "other"}, headers={"Idempotency-Key": key})
    assert other.status_code == 422
    stored = admin_db.execute(
        "SELECT count(*) FROM jobs_idempotencykey WHERE key = %s", [key]
    ).fetchone()[0]
    assert stored == 1


def test_concurrent_duplicates_create_one_job_and_get_its_response_or_a_409(system, admin_db):
    key = str(uuid.uuid4())
    name = f"burst-{key}"

    def post(_: int) -> httpx.Response:
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            return client.post("/api/jobs/", json={"name": name}, headers={"Idempotency-Key": key})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(post, range(16)))

    statuses = {r.status_code for r in responses}
    assert statuses <= {201, 409}, statuses
    created = [r.json() for r in responses if r.status_code == 201]
    assert created and all(body == created[0] for body in created)
    for conflict in (r for r in responses if r.status_code == 409):
        assert conflict.headers["Retry-After"] == "1"
    jobs = admin_db.execute("SELECT count(*) FROM jobs_job WHERE name = %s", [name]).fetchone()[0]
    assert jobs == 1
