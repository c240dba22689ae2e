"""A burst of concurrent writes through the gateway leaves every invariant true (checked in SQL)."""

import random
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.contract.helpers import create_job, invariant_violations

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

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [code for codes in pool.map(patch_many, range(8)) for code in codes]

    assert codes == [200] * 80
    events = admin_db.execute(
        "SELECT count(*) FROM jobs_jobstatus WHERE job_id = %s", [job["id"]]
    ).fetchone()[0]
    assert events == 81
    assert invariant_violations(admin_db) == dict.fromkeys(invariant_violations(admin_db), 0)
    latest = api.get(f"{path}statuses/", params={"limit": 1}).json()["results"][0]
    current = api.get(path).json()
    assert (current["current_status_type"], current["current_status_timestamp"]) == (
        latest["status_type"],
        latest["timestamp"],
    )


def test_concurrent_creates_patches_and_deletes_on_many_jobs(api, system, admin_db):
    jobs = [create_job(api, f"mixed-{n}")["id"] for n in range(8)]

    def work(job_id: int) -> list[int]:
        with httpx.Client(base_url=system.config.gateway_url, timeout=30) as client:
            codes = [client.post("/api/jobs/", json={"name": f"burst-{job_id}"}).status_code]
            codes += [
                client.patch(f"/api/jobs/{job_id}/", json={"status_type": s}).status_code
                for s in STATUSES
            ]
            if job_id % 2:
                codes.append(client.delete(f"/api/jobs/{job_id}/").status_code)
            return codes

    with ThreadPoolExecutor(max_workers=8) as pool:
        codes = [code for codes in pool.map(work, jobs) for code in codes]

    assert 500 not in codes and all(code in (200, 201, 204) for code in codes), codes
    assert invariant_violations(admin_db) == dict.fromkeys(invariant_violations(admin_db), 0)
    remaining = admin_db.execute(
        "SELECT count(*) FROM jobs_job WHERE id = ANY(%s)", [jobs]
    ).fetchone()[0]
    assert remaining == 4


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

    with ThreadPoolExecutor(max_workers=8) as pool:
        log = [entry for entries in pool.map(client_run, plans) for entry in entries]

    statuses = {status for _, status, _, _ in log}
    assert statuses <= {200, 201, 204, 404, 412}, statuses
    assert invariant_violations(admin_db) == dict.fromkeys(invariant_violations(admin_db), 0)

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
