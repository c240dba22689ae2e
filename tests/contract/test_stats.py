"""The stats through the gateway: what writes through the API add to the buckets, the
ETag/304 cycle, and a refused range, each checked against the OpenAPI description."""

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from tests.contract.helpers import assert_no_invariant_violations, create_job


def _around_now() -> str:
    """Stats by day of a few minutes around now: one query for the whole test, so its
    range does not move across midnight between two reads."""
    now = datetime.now(UTC)
    return (
        f"/api/jobs/stats/?since={quote((now - timedelta(minutes=5)).isoformat())}"
        f"&until={quote((now + timedelta(minutes=5)).isoformat())}&bucket=day"
    )


def _stats(api, query: str) -> dict:
    response = api.get(query)
    assert response.status_code == 200, response.text
    return response.json()


def test_writes_through_the_api_show_in_the_stats_of_their_bucket(api, admin_db):
    query = _around_now()
    before = _stats(api, query)
    job = create_job(api, "stats-contract")
    for status in ("RUNNING", "FAILED"):
        patched = api.patch(f"/api/jobs/{job['id']}/", json={"status_type": status})
        assert patched.status_code == 200, patched.text
    after = _stats(api, query)

    gained = {
        status: after["total"]["entered"][status] - before["total"]["entered"][status]
        for status in before["total"]["entered"]
    }
    assert gained == {"PENDING": 1, "RUNNING": 1, "COMPLETED": 0, "FAILED": 1}
    assert after["total"]["run_time"]["count"] == before["total"]["run_time"]["count"] + 1
    failed = after["total"]["entered"]["FAILED"]
    assert after["total"]["failure_rate"] == round(failed / after["total"]["finished"], 4)

    etag = api.get(query).headers["ETag"]
    assert api.get(query, headers={"If-None-Match": etag}).status_code == 304
    head = api.head(query)
    assert (head.status_code, head.content, head.headers["ETag"]) == (200, b"", etag)
    assert api.delete(f"/api/jobs/{job['id']}/").status_code == 204
    deleted = _stats(api, query)
    assert deleted["total"]["entered"] == before["total"]["entered"]
    assert api.get(query, headers={"If-None-Match": etag}).status_code == 200
    assert_no_invariant_violations(admin_db)


def test_too_many_buckets_is_a_problem_naming_the_bucket(api):
    response = api.get(
        "/api/jobs/stats/?since=2026-01-01T00:00:00Z&until=2026-12-01T00:00:00Z&bucket=hour"
    )
    assert response.status_code == 400
    assert response.headers["Content-Type"] == "application/problem+json"
    assert "bucket" in response.json()["errors"]


def test_the_path_without_its_slash_names_it(raw_api):
    response = raw_api.get("/api/jobs/stats")
    assert response.status_code == 404
    assert "/api/jobs/stats/" in response.json()["detail"]
