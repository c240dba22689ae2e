"""A burst of concurrent writes through the gateway leaves every invariant true (checked in SQL)."""

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
