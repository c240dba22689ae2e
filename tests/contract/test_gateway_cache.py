"""The gateway cache (GATEWAY_CACHE_SECONDS): a gateway of its own with the cache on, on a
free port from the test stack's + 50, in front of the test stack's services; and the test
stack's own gateway, where it is off (the default).

What reached the query service is counted from the services' own logs by request id (each
request here sends an id of its own, which the gateway passes on and the service logs),
and what the gateway did from its access log's `upstream` and `cache` fields."""

from __future__ import annotations

import dataclasses
import json
import shutil
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stack.config import TEST_ORIGIN
from stack.processes import Gateway
from stack.system import System
from tests.contract import raw_http
from tests.contract.helpers import await_condition, create_job, free_from

BURST = 50


def access_log_lines(path: Path, marker: str, count: int) -> list[dict]:
    def lines() -> list[dict]:
        found = [json.loads(line) for line in path.read_text().splitlines() if line]
        found = [line for line in found if line["request_id"].startswith(marker)]
        return found if len(found) >= count else []

    return await_condition(lines, timeout=5, what=f"{count} access-log lines of {marker}")


@dataclasses.dataclass
class CachingGateway:
    gateway: Gateway
    system: System

    @property
    def url(self) -> str:
        return self.gateway.config.gateway_url

    def access_log(self, marker: str, count: int) -> list[dict]:
        """The gateway's access-log lines of the `count` requests whose id starts with
        `marker` (nginx writes a line just after its answer, so it may be a moment late)."""
        return access_log_lines(self.gateway.config.logs_dir / "gateway-access.log", marker, count)

    def served_by_query_service(self, marker: str) -> int:
        """How many requests whose id starts with `marker` a query instance answered (the
        one line per request each writes before it answers)."""
        records = [
            json.loads(line)
            for log in self.system.config.logs_dir.glob("query*.log")
            for line in log.read_text().splitlines()
            if line.startswith("{")
        ]
        return sum(
            1
            for record in records
            if record.get("message") == "request"
            and (record.get("request_id") or "").startswith(marker)
        )


@pytest.fixture
def cached(system: System) -> Iterator[CachingGateway]:
    # In the test stack's folder: nginx's workers (`nobody` when the tests run as root)
    # open the cache's files, and pytest's own folders are its user's alone.
    state_dir = system.config.state_dir / "caching-gateway"
    shutil.rmtree(state_dir, ignore_errors=True)
    config = dataclasses.replace(
        system.config,
        state_dir=state_dir,
        gateway_port=free_from(system.config.gateway_port + 50, count=1),
        gateway_cache_seconds=1,
    )
    gateway = Gateway(config)
    try:
        gateway.start()
        yield CachingGateway(gateway, system)
    finally:
        gateway.stop()


def marker() -> str:
    """A request-id prefix (and a search term) no other request of the run has."""
    return f"cache-{uuid.uuid4().hex[:12]}"


def ids(prefix: str) -> Iterator[dict[str, str]]:
    for n in range(1_000_000):
        yield {"X-Request-ID": f"{prefix}-{n}"}


def test_a_burst_of_one_list_page_reaches_the_query_service_once(cached):
    """50 identical list requests at once, none cached before: one goes to the service,
    the others wait for its answer (proxy_cache_lock) and get it from the cache."""
    tag = marker()
    barrier = threading.Barrier(BURST)
    statuses: list[int] = []

    def read(n: int) -> None:
        with httpx.Client(base_url=cached.url, timeout=10) as client:
            barrier.wait()
            response = client.get(
                "/api/jobs/", params={"search": tag}, headers={"X-Request-ID": f"{tag}-{n}"}
            )
            statuses.append(response.status_code)

    threads = [threading.Thread(target=read, args=(n,)) for n in range(BURST)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * BURST
    lines = cached.access_log(tag, BURST)
    assert sorted(line["cache"] for line in lines) == ["HIT"] * (BURST - 1) + ["MISS"]
    assert sum(1 for line in lines if line["upstream"]) == 1
    assert cached.served_by_query_service(tag) == 1


def test_a_read_with_its_writes_token_sees_the_write_past_the_cache(cached):
    tag = marker()
    request_ids = ids(tag)
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        page = {"search": tag}
        assert client.get("/api/jobs/", params=page, headers=next(request_ids)).json()["count"] == 0
        created = client.post("/api/jobs/", json={"name": tag}, headers=next(request_ids))
        assert created.status_code == 201
        token = created.headers["Consistency-Token"]
        fresh = client.get(
            "/api/jobs/", params=page, headers={**next(request_ids), "Consistency-Token": token}
        )
        assert [job["name"] for job in fresh.json()["results"]] == [tag]
        summary = client.get(
            "/api/jobs/summary/", headers={**next(request_ids), "Consistency-Token": token}
        )
        assert summary.status_code == 200
    first, _, with_token, summary_with_token = cached.access_log(tag, 4)
    assert first["cache"] == "MISS"
    # Past the cache entirely: to the service, and nothing looked up or stored.
    assert with_token["upstream"] and with_token["cache"] == ""
    assert summary_with_token["upstream"] and summary_with_token["cache"] == ""


def test_cache_control_no_cache_goes_past_the_cache(cached, api):
    tag = marker()
    request_ids = ids(tag)
    page = {"search": tag}
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        assert client.get("/api/jobs/", params=page, headers=next(request_ids)).json()["count"] == 0
        # Written past this gateway: only a read that skips its cache can see it.
        create_job(api, tag)
        fresh = client.get(
            "/api/jobs/", params=page, headers={**next(request_ids), "Cache-Control": "no-cache"}
        )
    assert fresh.json()["count"] == 1
    assert [line["cache"] for line in cached.access_log(tag, 2)] == ["MISS", ""]
    assert cached.served_by_query_service(tag) == 2


def test_a_job_and_its_history_are_never_cached(cached, api):
    job = create_job(api, marker())
    tag = marker()
    request_ids = ids(tag)
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        for path in (f"/api/jobs/{job['id']}/", f"/api/jobs/{job['id']}/statuses/") * 2:
            assert client.get(path, headers=next(request_ids)).status_code == 200
    lines = cached.access_log(tag, 4)
    assert [(line["cache"], bool(line["upstream"])) for line in lines] == [("", True)] * 4
    assert cached.served_by_query_service(tag) == 4


def test_a_cached_answer_carries_each_requests_own_request_id(cached):
    tag = marker()
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        answers = [
            client.get("/api/jobs/summary/", headers={"X-Request-ID": f"{tag}-{n}"})
            for n in range(3)
        ]
    assert [answer.headers["X-Request-ID"] for answer in answers] == [
        f"{tag}-{n}" for n in range(3)
    ]
    assert [line["cache"] for line in cached.access_log(tag, 3)][1:] == ["HIT", "HIT"]


def test_if_none_match_is_answered_304_from_the_cache(cached):
    tag = marker()
    request_ids = ids(tag)
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        etag = client.get("/api/jobs/", params={"search": tag}, headers=next(request_ids)).headers[
            "ETag"
        ]
        again = client.get(
            "/api/jobs/",
            params={"search": tag},
            headers={**next(request_ids), "If-None-Match": etag},
        )
    assert again.status_code == 304 and again.content == b""
    assert again.headers["ETag"] == etag
    assert [line["cache"] for line in cached.access_log(tag, 2)] == ["MISS", "HIT"]
    assert cached.served_by_query_service(tag) == 1


def test_a_head_gets_no_body_and_a_get_after_it_gets_the_whole_page(cached):
    """nginx asks the service with a GET for a HEAD it may cache; the client still gets
    only headers (read on a raw socket: nothing after them), and a GET then the body."""
    tag = marker()
    target = f"/api/jobs/?search={tag}"
    port = cached.gateway.config.gateway_port
    # The Host httpx sends: the cache's key names it.
    head = raw_http.send(
        port,
        raw_http.request_bytes(
            "HEAD", target, host=f"127.0.0.1:{port}", headers=[("X-Request-ID", f"{tag}-head")]
        ),
    )
    assert head.status == 200 and head.body == b""
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        got = client.get(target, headers={"X-Request-ID": f"{tag}-get"})
    assert got.status_code == 200 and got.json()["count"] == 0
    assert got.headers["Content-Length"] == head.header("Content-Length")
    assert [line["cache"] for line in cached.access_log(tag, 2)] == ["MISS", "HIT"]


def test_a_request_with_an_origin_is_never_answered_from_the_cache(cached):
    """The service's CORS headers name the request's origin: an answer for one origin
    must not reach another, nor a request without one."""
    tag = marker()
    request_ids = ids(tag)
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        allowed = client.get(
            "/api/jobs/summary/", headers={**next(request_ids), "Origin": TEST_ORIGIN}
        )
        other = client.get(
            "/api/jobs/summary/", headers={**next(request_ids), "Origin": "http://other.test"}
        )
        plain = client.get("/api/jobs/summary/", headers=next(request_ids))
    assert allowed.headers["Access-Control-Allow-Origin"] == TEST_ORIGIN
    assert "Access-Control-Allow-Origin" not in other.headers
    assert "Access-Control-Allow-Origin" not in plain.headers
    assert [line["cache"] for line in cached.access_log(tag, 3)][:2] == ["", ""]
    assert cached.served_by_query_service(tag) >= 2


def test_an_error_is_never_cached(cached):
    tag = marker()
    request_ids = ids(tag)
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        answers = [
            client.get("/api/jobs/", params={"bogus": tag}, headers=next(request_ids))
            for _ in range(2)
        ]
    assert [answer.status_code for answer in answers] == [400, 400]
    assert cached.served_by_query_service(tag) == 2


def test_with_the_cache_off_nothing_is_cached_and_a_write_is_seen_at_once(system, api):
    """The test stack's gateway runs with GATEWAY_CACHE_SECONDS at its default, 0."""
    assert system.config.gateway_cache_seconds == 0
    tag = marker()
    request_ids = ids(tag)
    page = {"search": tag}
    assert api.get("/api/jobs/", params=page, headers=next(request_ids)).json()["count"] == 0
    create_job(api, tag)
    assert api.get("/api/jobs/", params=page, headers=next(request_ids)).json()["count"] == 1
    api.get("/api/jobs/summary/", headers=next(request_ids))
    api.get("/api/jobs/summary/", headers=next(request_ids))
    lines = access_log_lines(system.config.logs_dir / "gateway-access.log", tag, 4)
    assert [(line["cache"], bool(line["upstream"])) for line in lines] == [("", True)] * 4


def test_a_cached_page_is_kept_less_than_its_seconds_plus_one(cached, api):
    """nginx counts an entry's age in whole seconds: with GATEWAY_CACHE_SECONDS=1 a page is
    served until the second after the next one begins, less than 2 s after it was stored;
    then it is asked of the service again (with its ETag, which a write has changed)."""
    tag = marker()
    request_ids = ids(tag)
    page = {"search": tag}
    started: list[float] = []

    def count() -> int:
        # When the read that saw the write was sent: a slow answer must not count.
        started.append(time.monotonic())
        return client.get("/api/jobs/", params=page, headers=next(request_ids)).json()["count"]

    with httpx.Client(base_url=cached.url, timeout=10) as client:
        assert count() == 0
        stored = time.monotonic()  # at or after the entry was stored
        create_job(api, tag)
        await_condition(count, timeout=5, what="the write, through the cache")
    # Under 2 s, plus the 50 ms between polls and a margin for a loaded machine.
    assert started[-1] - stored < 2 + 0.05 + 0.25
    statuses = [line["cache"] for line in cached.access_log(tag, 3)]
    assert statuses[0] == "MISS" and statuses[-1] == "EXPIRED"
    assert set(statuses[1:-1]) <= {"HIT"}


def test_a_get_with_a_body_is_the_services_400_with_its_page_cached(cached):
    tag = marker()
    request_ids = ids(tag)
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        assert client.get(
            "/api/jobs/", params={"search": tag}, headers=next(request_ids)
        ).is_success
        with_body = client.request(
            "GET",
            "/api/jobs/",
            params={"search": tag},
            content=b"{}",
            headers={**next(request_ids), "Content-Type": "application/json"},
        )
    assert with_body.status_code == 400
    assert [line["cache"] for line in cached.access_log(tag, 2)] == ["MISS", ""]


def test_an_accept_the_service_refuses_is_its_406_with_the_page_cached(cached):
    tag = marker()
    request_ids = ids(tag)
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        assert client.get("/api/jobs/summary/", headers=next(request_ids)).is_success
        html = client.get(
            "/api/jobs/summary/", headers={**next(request_ids), "Accept": "text/html"}
        )
    assert html.status_code == 406
    assert [line["cache"] for line in cached.access_log(tag, 2)][1] == ""


def test_a_gateway_started_again_starts_with_an_empty_cache(cached):
    tag = marker()
    with httpx.Client(base_url=cached.url, timeout=10) as client:
        assert client.get("/api/jobs/summary/", headers={"X-Request-ID": f"{tag}-0"}).is_success
        cached.gateway.stop()
        cached.gateway.start()
        assert client.get("/api/jobs/summary/", headers={"X-Request-ID": f"{tag}-1"}).is_success
    assert [line["cache"] for line in cached.access_log(tag, 2)] == ["MISS", "MISS"]
