"""Consistency-Token through the gateway: every successful write answers one, every read
takes it back, and one the API did not issue is a 400 problem."""

import pytest

from tests.contract.helpers import create_job

INVALID = "https://jobs.example/problems/consistency-token-invalid"


def _position(token: str) -> int:
    lsn = token.rsplit(":", 1)[0]
    high, low = lsn.split("/")
    return (int(high, 16) << 32) + int(low, 16)


def test_every_successful_write_answers_a_token_that_moves_forward(api):
    created = api.post("/api/jobs/", json={"name": "token"})
    path = f"/api/jobs/{created.json()['id']}/"
    patched = api.patch(path, json={"status_type": "RUNNING"})
    deleted = api.delete(path)
    tokens = [response.headers["Consistency-Token"] for response in (created, patched, deleted)]
    assert [created.status_code, patched.status_code, deleted.status_code] == [201, 200, 204]
    positions = [_position(token) for token in tokens]
    assert positions == sorted(positions) and positions[0] < positions[-1], tokens


def test_a_refused_write_answers_no_token(api):
    assert "Consistency-Token" not in api.post("/api/jobs/", json={}).headers
    assert "Consistency-Token" not in api.delete("/api/jobs/999999999/").headers


@pytest.mark.parametrize(
    "path",
    [
        "/api/jobs/",
        "/api/jobs/summary/",
        "/api/jobs/stats/",
        "/api/jobs/{id}/",
        "/api/jobs/{id}/statuses/",
    ],
)
def test_a_read_with_its_writes_token_includes_the_write(api, path):
    created = api.post("/api/jobs/", json={"name": "read-your-write"})
    job = created.json()
    token = created.headers["Consistency-Token"]
    response = api.get(path.format(id=job["id"]), headers={"Consistency-Token": token})
    assert response.status_code == 200, response.text
    if path == "/api/jobs/":
        assert job["id"] in [row["id"] for row in response.json()["results"]]
    etag = response.headers["ETag"]
    revalidated = api.get(
        path.format(id=job["id"]), headers={"Consistency-Token": token, "If-None-Match": etag}
    )
    assert revalidated.status_code in (200, 304)


@pytest.mark.parametrize(
    "forge",
    [
        lambda token: token[:-1] + ("A" if token[-1] != "A" else "B"),  # signature changed
        lambda token: "FF/FFFFFFFF:" + token.rsplit(":", 1)[1],  # position moved
        lambda token: token.rsplit(":", 1)[0],  # no signature
        lambda token: "",
        lambda token: "not a token",
    ],
    ids=["signature", "position", "unsigned", "empty", "garbage"],
)
@pytest.mark.parametrize("path", ["/api/jobs/", "/api/jobs/summary/", "/api/jobs/{id}/"])
def test_a_token_the_api_did_not_issue_is_a_400_problem(api, contract, forge, path):
    job = create_job(api, "forged")
    token = api.delete(f"/api/jobs/{create_job(api, 'other')['id']}/").headers["Consistency-Token"]
    for method in ("GET", "HEAD"):
        response = api.request(
            method, path.format(id=job["id"]), headers={"Consistency-Token": forge(token)}
        )
        assert response.status_code == 400, (method, response.text)
        if method == "GET":
            contract.check_problem(response)
            assert response.json()["type"] == INVALID


def test_browsers_may_send_and_read_the_token(api, raw_api, system):
    origin = system.config.cors_allowed_origins.split(",")[0]
    preflight = raw_api.options(
        "/api/jobs/",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "consistency-token",
        },
    )
    assert "consistency-token" in preflight.headers["Access-Control-Allow-Headers"].lower()
    created = api.post("/api/jobs/", json={"name": "cors"}, headers={"Origin": origin})
    exposed = created.headers["Access-Control-Expose-Headers"].lower()
    assert "consistency-token" in exposed
