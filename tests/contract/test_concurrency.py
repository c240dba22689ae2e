"""A burst of concurrent writes through the gateway leaves every invariant true (checked in SQL)."""

import random
import threading
import uuid
from collections import Counter
from dataclasses import dataclass

import httpx

from tests.contract.helpers import (
    assert_no_invariant_violations,
    create_job,
    run_in_threads,
)

STATUSES = ["RUNNING", "FAILED", "COMPLETED", "RUNNING"]


def test_concurrent_patches_on_one_job_keep_every_invariant(api, system, admin_db):
    job = create_job(api, "contended")
    path = f"/api/jobs/{job['id']}/"

    def patch_many(worker: int) -> list[int]:
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            return [
                client.patch(path, json={"status_type": STATUSES[(worker + n) % 4]}).status_code
                for n in range(10)
            ]

    codes = [
        code
        for codes in run_in_threads(patch_many, range(8), workers=8, timeout=120)
        for code in codes
    ]

    assert codes == [200] * 80
    events = admin_db.execute(
        "SELECT count(*) FROM jobs_jobstatus WHERE job_id = %s", [job["id"]]
    ).fetchone()[0]
    assert events == 81
    assert_no_invariant_violations(admin_db)
    latest = api.get(f"{path}statuses/", params={"limit": 1}).json()["results"][0]
    current = api.get(path).json()
    assert (current["current_status_type"], current["current_status_timestamp"]) == (
        latest["status_type"],
        latest["timestamp"],
    )


@dataclass(frozen=True)
class Call:
    job_id: int
    operation: str
    status: int
    body: dict


# What each operation may answer while other threads change and delete the same job: a
# plain PATCH or DELETE either finds the job (200, 204) or finds it gone (404); only a
# conditional one may also find it changed (412).
ALLOWED = {
    "GET": {200, 404},
    "PATCH": {200, 404},
    "PATCH If-Match": {200, 404, 412},
    "DELETE": {204, 404},
    "DELETE If-Match": {204, 404, 412},
}


def test_threads_racing_patches_and_deletes_on_the_same_jobs_keep_every_invariant(
    api, system, admin_db
):
    """8 threads walk the same 20 jobs in the same order, each PATCHing every job (plainly
    and with If-Match) and DELETEing every even one (plainly or with If-Match), so appends
    and deletes meet on the same row at the same time (about 600 requests).

    No 5xx; each answer one its operation may give; each even job deleted by exactly one
    204 and gone with all its events; each odd job still there with exactly one event per
    200 PATCH (none lost, none doubled); every invariant true.
    """
    run = uuid.uuid4().hex[:8]
    job_ids = [create_job(api, f"race-{run}-{n}")["id"] for n in range(20)]
    doomed = set(job_ids[0::2])
    start = threading.Barrier(8, timeout=30)

    def walk(worker: int) -> list[Call]:
        rng = random.Random(worker)
        calls = []
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            start.wait()
            for job_id in job_ids:
                path = f"/api/jobs/{job_id}/"
                operations = ["PATCH", "PATCH", "PATCH If-Match"]
                if job_id in doomed:
                    operations.append(rng.choice(["DELETE", "DELETE If-Match"]))
                rng.shuffle(operations)
                for operation in operations:
                    headers = {}
                    if operation.endswith("If-Match"):
                        current = client.get(path)
                        calls.append(Call(job_id, "GET", current.status_code, {}))
                        headers["If-Match"] = current.headers.get("ETag", '"0-0"')
                    if operation.startswith("PATCH"):
                        status_type = STATUSES[rng.randrange(len(STATUSES))]
                        response = client.patch(
                            path, json={"status_type": status_type}, headers=headers
                        )
                    else:
                        response = client.delete(path, headers=headers)
                    body = response.json() if response.content else {}
                    calls.append(Call(job_id, operation, response.status_code, body))
        return calls

    walks = run_in_threads(walk, range(8), workers=8, timeout=120)
    calls = [call for calls in walks for call in calls]

    unexpected = [c for c in calls if c.status not in ALLOWED[c.operation]]
    assert unexpected == [], unexpected[:10]
    assert not [c for c in calls if c.job_id not in doomed and c.status == 404]
    deletions = Counter(
        c.job_id for c in calls if c.operation.startswith("DELETE") and c.status == 204
    )
    assert deletions == dict.fromkeys(doomed, 1)

    remaining = {
        row[0] for row in admin_db.execute("SELECT id FROM jobs_job WHERE id = ANY(%s)", [job_ids])
    }
    assert remaining == set(job_ids) - doomed
    orphans = admin_db.execute(
        "SELECT count(*) FROM jobs_jobstatus WHERE job_id = ANY(%s)", [list(doomed)]
    ).fetchone()[0]
    assert orphans == 0
    events = dict(
        admin_db.execute(
            "SELECT job_id, count(*) FROM jobs_jobstatus WHERE job_id = ANY(%s) GROUP BY job_id",
            [list(remaining)],
        ).fetchall()
    )
    appended = Counter(
        c.job_id for c in calls if c.operation.startswith("PATCH") and c.status == 200
    )
    assert events == {job_id: 1 + appended[job_id] for job_id in remaining}
    assert_no_invariant_violations(admin_db)


def test_many_clients_mixing_writes_on_the_same_and_different_jobs(api, system, admin_db):
    """Creates, appends (some with If-Match), deletes and reads, at once, on shared jobs.

    Afterwards: no 500, every invariant true, and every acknowledged write is there: each
    201's job exists unless a 204 deleted it, and each 200 PATCH left its event.
    """
    shared_ids = [create_job(api, f"shared-{n}")["id"] for n in range(4)]
    rng = random.Random(20261128)
    plans = [[rng.random() for _ in range(25)] for _ in range(8)]

    def client_run(plan: list[float]) -> list[tuple[str, int, int, dict]]:
        log = []
        own: list[int] = []
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            for draw in plan:
                job_id = (own + shared_ids)[int(draw * 1000) % len(own + shared_ids)]
                path = f"/api/jobs/{job_id}/"
                if draw < 0.2:
                    r = client.post("/api/jobs/", json={"name": "mixed"})
                    if r.status_code == 201:
                        own.append(r.json()["id"])
                    log.append(("POST", r.status_code, r.json().get("id", 0), r.json()))
                elif draw < 0.6:
                    status = STATUSES[int(draw * 100) % 4]
                    r = client.patch(path, json={"status_type": status})
                    log.append(("PATCH", r.status_code, job_id, r.json()))
                elif draw < 0.75:
                    etag = client.get(path).headers.get("ETag", '"none"')
                    r = client.patch(
                        path, json={"status_type": "RUNNING"}, headers={"If-Match": etag}
                    )
                    log.append(("PATCH", r.status_code, job_id, r.json()))
                elif draw < 0.85:
                    r = client.delete(path)
                    log.append(("DELETE", r.status_code, job_id, {}))
                else:
                    r = client.get(f"{path}statuses/")
                    log.append(("GET", r.status_code, job_id, {}))
        return log

    log = [
        entry
        for entries in run_in_threads(client_run, plans, workers=8, timeout=120)
        for entry in entries
    ]

    statuses = {status for _, status, _, _ in log}
    assert statuses <= {200, 201, 204, 404, 412}, statuses
    assert_no_invariant_violations(admin_db)

    deleted = {job_id for method, status, job_id, _ in log if method == "DELETE" and status == 204}
    created = {job_id for method, status, job_id, _ in log if method == "POST" and status == 201}
    existing = {
        row[0]
        for row in admin_db.execute(
            "SELECT id FROM jobs_job WHERE id = ANY(%s)", [list(created | set(shared_ids))]
        )
    }
    assert created - deleted <= existing
    for method, status, job_id, body in log:
        if method == "PATCH" and status == 200 and job_id not in deleted:
            event = admin_db.execute(
                "SELECT status_type FROM jobs_jobstatus WHERE job_id = %s AND timestamp = %s",
                [job_id, body["current_status_timestamp"]],
            ).fetchone()
            assert event == (body["current_status_type"],)
