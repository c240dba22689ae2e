"""What the gateway adds to every response, and the API description it serves."""

import re

import pytest
import yaml

from stack.openapi import DESCRIPTION_PATH

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
}


@pytest.mark.parametrize(
    ("method", "path"), [("GET", "/api/jobs/"), ("GET", "/nope"), ("POST", "/api/jobs/")]
)
def test_security_headers_and_request_id_on_success_and_error(api, method, path):
    response = api.request(method, path, json={})
    for header, value in SECURITY_HEADERS.items():
        assert response.headers[header] == value
    assert "default-src 'none'" in response.headers["Content-Security-Policy"]
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["X-Request-ID"])
    assert response.headers["Server"] == "nginx"  # server_tokens off: no version


def test_each_header_appears_once(api):
    response = api.get("/api/jobs/")
    for header in ("X-Request-ID", "X-Content-Type-Options", "Referrer-Policy"):
        assert len(response.headers.get_list(header)) == 1, header


def test_the_one_openapi_description_is_served_with_both_services_halves(api):
    response = api.get("/api/schema/")
    assert response.status_code == 200
    assert response.content == DESCRIPTION_PATH.read_bytes()
    paths = yaml.safe_load(response.content)["paths"]
    assert set(paths["/api/jobs/"]) >= {"get", "post"}
    assert set(paths["/api/jobs/{job_id}/"]) >= {"get", "patch", "delete"}
    assert "get" in paths["/api/jobs/{job_id}/statuses/"]


def test_the_descriptions_paging_facts_are_what_the_api_enforces(api):
    """What the dashboard learns from the description (through contract.js): the orderings
    with cursor pages, and the deepest offset."""
    parameters = yaml.safe_load(DESCRIPTION_PATH.read_text())["paths"]["/api/jobs/"]["get"][
        "parameters"
    ]
    schemas = {p["name"]: p["schema"] for p in parameters if p["in"] == "query"}
    ordering, offset = schemas["ordering"], schemas["offset"]
    for value in ordering["enum"]:
        page = api.get("/api/jobs/", params={"pagination": "cursor", "ordering": value})
        assert (page.status_code == 200) is (value in ordering["x-cursor-orderings"]), value
    assert api.get("/api/jobs/", params={"offset": offset["maximum"]}).status_code == 200
    assert api.get("/api/jobs/", params={"offset": offset["maximum"] + 1}).status_code == 400


def test_the_interactive_docs_page_and_its_assets_are_served_without_a_cdn(api):
    page = api.get("/api/docs/")
    assert page.status_code == 200
    assert "text/html" in page.headers["Content-Type"]
    assets = re.findall(r'(?:src|href)="(/api/static/[^"]+)"', page.text)
    assert assets, page.text
    assert "cdn" not in page.text.lower()
    for asset in assets:
        assert api.get(asset).status_code == 200, asset
