"""Every row of the HTTP contract (README, "The API, by example"), through the gateway."""

import contextlib
import socket
import uuid
from datetime import datetime, timedelta

import pytest

from shared.domain.enums import JobStatusType
from tests.contract.helpers import create_job, pages_along


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_post_creates_a_job_that_the_query_side_serves_at_its_location(api):
    name = unique("create")
    response = api.post("/api/jobs/", json={"name": name})
    assert response.status_code == 201
    created = response.json()
    assert created["current_status_type"] == "PENDING"
    location = response.headers["Location"]
    assert location == f"/api/jobs/{created['id']}/"
    fetched = api.get(location)
    assert fetched.status_code == 200
    assert fetched.json() == created


def test_patch_appends_a_status_that_history_shows_newest_first(api):
    job = create_job(api, unique("patch"))
    running = api.patch(f"/api/jobs/{job['id']}/", json={"status_type": "RUNNING"})
    assert running.status_code == 200
    done = api.patch(
        f"/api/jobs/{job['id']}/", json={"status_type": "COMPLETED", "name": "renamed"}
    )
    assert done.status_code == 200
    assert (done.json()["current_status_type"], done.json()["name"]) == ("COMPLETED", "renamed")

    history = api.get(f"/api/jobs/{job['id']}/statuses/")
    assert history.status_code == 200
    events = history.json()["results"]
    assert [e["status_type"] for e in events] == ["COMPLETED", "RUNNING", "PENDING"]
    assert events[0]["timestamp"] == done.json()["current_status_timestamp"]
    assert events[0]["timestamp"] > events[1]["timestamp"] > events[2]["timestamp"]


def test_delete_removes_the_job_and_its_history(api):
    job = create_job(api, unique("delete"))
    assert api.delete(f"/api/jobs/{job['id']}/").status_code == 204
    assert api.get(f"/api/jobs/{job['id']}/").status_code == 404
    assert api.get(f"/api/jobs/{job['id']}/statuses/").status_code == 404
    assert api.delete(f"/api/jobs/{job['id']}/").status_code == 404


def test_list_filters_searches_orders_and_pages(api):
    marker = unique("list")
    ids = [create_job(api, f"{marker}-{n}")["id"] for n in range(5)]
    api.patch(f"/api/jobs/{ids[0]}/", json={"status_type": "RUNNING"})
    api.patch(f"/api/jobs/{ids[1]}/", json={"status_type": "FAILED"})

    newest_first = api.get("/api/jobs/", params={"search": marker.upper()}).json()
    assert [job["id"] for job in newest_first["results"]] == ids[::-1]
    assert newest_first["count"] == 5

    by_status = api.get("/api/jobs/", params={"search": marker, "status": "RUNNING,FAILED"})
    assert sorted(job["id"] for job in by_status.json()["results"]) == ids[:2]

    page = api.get(
        "/api/jobs/", params={"search": marker, "ordering": "id", "limit": 2, "offset": 2}
    ).json()
    assert [job["id"] for job in page["results"]] == ids[2:4]
    assert page["next"].startswith("http://127.0.0.1:")
    assert "offset=4" in page["next"]
    assert "offset" not in page["previous"]  # DRF drops offset=0 from the first page's link


def test_an_empty_search_is_no_search(api):
    """What a cleared search box sends; the description allows it (the checker validates
    every accepted request against it too)."""
    create_job(api, unique("empty-search"))
    everything = api.get("/api/jobs/").json()
    cleared = api.get("/api/jobs/", params={"search": ""}).json()
    assert cleared["count"] == everything["count"] and cleared["count_exact"]
    assert cleared["results"] == everything["results"]


def test_list_default_limit_is_20_and_a_large_limit_is_clamped_to_100(api):
    for n in range(21):
        create_job(api, unique(f"limit-{n}"))
    assert len(api.get("/api/jobs/").json()["results"]) == 20
    for n in range(80):
        create_job(api, unique(f"clamp-{n}"))
    assert len(api.get("/api/jobs/", params={"limit": 500}).json()["results"]) == 100


def test_head_is_served_like_get_without_a_body(api):
    response = api.head("/api/jobs/")
    assert response.status_code == 200
    assert response.content == b""
    assert response.headers["Content-Type"] == "application/json"


@pytest.mark.parametrize("path", ["/api/jobs/", "/api/jobs/?limit=abc", "/api/jobs/987654321/"])
def test_the_query_service_sends_no_body_after_a_head_answer(system, path):
    """gunicorn sends any body it is given; after a HEAD answer nginx reads none and put
    the connection back in its keepalive pool with the body unread, so a later request
    on it read that body as its answer and hung (about one in twenty, back to back)."""
    with socket.create_connection(("127.0.0.1", system.services["query"].port)) as sock:
        sock.sendall(f"HEAD {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        sock.settimeout(0.5)
        received = b""
        with contextlib.suppress(TimeoutError):
            while chunk := sock.recv(65536):
                received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    assert b"Content-Length: " in head
    assert body == b""


def test_timestamps_are_rfc3339_utc_with_microseconds(api):
    job = create_job(api, unique("time"))
    for field in ("created_at", "updated_at", "current_status_timestamp"):
        value = job[field]
        assert value.endswith("Z") and value[10] == "T" and len(value) == 27, value


def test_the_summary_counts_every_status_exactly(api, admin_db):
    create_job(api, unique("summary"))
    summary = api.get("/api/jobs/summary/")
    assert summary.status_code == 200
    body = summary.json()
    actual = dict(
        admin_db.execute("SELECT current_status_type, count(*) FROM jobs_job GROUP BY 1").fetchall()
    )
    # Every status, zero included: compared over the contract's keys, not the answer's.
    assert body["by_status"] == {s: actual.get(s, 0) for s in JobStatusType.values}
    assert body["total"] == sum(actual.values())
    assert (
        api.get(
            "/api/jobs/summary/", headers={"If-None-Match": summary.headers["ETag"]}
        ).status_code
        == 304
    )


def test_cursor_pages_through_the_gateway(api):
    marker = unique("cursor")
    ids = [create_job(api, f"{marker}-{n}")["id"] for n in range(5)]
    first = api.get("/api/jobs/", params={"search": marker, "pagination": "cursor", "limit": 2})
    pages = pages_along(first.json(), "next", lambda url: api.get(url).json())
    seen = [job["id"] for page in pages for job in page["results"]]
    assert seen == ids[::-1]


def test_a_deep_offset_is_refused_and_points_to_cursors(api):
    response = api.get("/api/jobs/", params={"offset": 10_001})
    assert response.status_code == 400
    assert "pagination=cursor" in response.json()["detail"]


def test_a_list_revalidates_with_304_until_a_write(api):
    first = api.get("/api/jobs/", params={"limit": 5})
    etag = first.headers["ETag"]
    assert (
        api.get("/api/jobs/", params={"limit": 5}, headers={"If-None-Match": etag}).status_code
        == 304
    )
    create_job(api, unique("invalidate"))
    assert (
        api.get("/api/jobs/", params={"limit": 5}, headers={"If-None-Match": etag}).status_code
        == 200
    )


def test_history_durations_add_up_to_the_time_between_the_first_and_the_current_event(api):
    job = create_job(api, unique("durations"))
    for status in ("RUNNING", "FAILED", "RUNNING"):
        assert api.patch(f"/api/jobs/{job['id']}/", json={"status_type": status}).status_code == 200
    events = api.get(f"/api/jobs/{job['id']}/statuses/").json()["results"]
    durations = [event["duration_seconds"] for event in events]
    assert durations[0] is None and all(d > 0 for d in durations[1:]), durations
    first, current = (datetime.fromisoformat(events[k]["timestamp"]) for k in (-1, 0))
    assert sum(durations[1:]) == pytest.approx((current - first).total_seconds(), abs=1e-5)


def test_failed_in_a_time_window_newest_status_first_through_the_gateway(api):
    """The list's time windows: a job failed now is in a window that starts a minute ago
    and out of one that ends before it; reversed bounds are a 400 naming the bound."""
    job = create_job(api, unique("window"))
    failed = api.patch(f"/api/jobs/{job['id']}/", json={"status_type": "FAILED"}).json()
    changed = datetime.fromisoformat(failed["current_status_timestamp"])
    window = {
        "status": "FAILED",
        "ordering": "-current_status_timestamp",
        "status_changed_after": (changed - timedelta(minutes=1)).isoformat(),
    }
    page = api.get("/api/jobs/", params=window).json()
    assert job["id"] in [found["id"] for found in page["results"]]
    window["status_changed_before"] = changed.isoformat()  # exclusive: the job is out
    page = api.get("/api/jobs/", params=window).json()
    assert job["id"] not in [found["id"] for found in page["results"]]
    window["status_changed_before"] = window["status_changed_after"]
    reversed_bounds = api.get("/api/jobs/", params=window)
    assert reversed_bounds.status_code == 400
    assert "status_changed_before" in reversed_bounds.json()["errors"]
