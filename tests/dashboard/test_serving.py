"""The dashboard's files as the gateway serves them: types, cache headers, CSP, errors."""

import pytest

PROBLEM = "application/problem+json"


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/", "text/html; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/api.js", "text/javascript; charset=utf-8"),
        ("/assets/views.js", "text/javascript; charset=utf-8"),
        ("/assets/contract.js", "text/javascript; charset=utf-8"),
        ("/assets/styles.css", "text/css; charset=utf-8"),
        ("/assets/vendor/uplot/uPlot.esm.js", "text/javascript; charset=utf-8"),
        ("/assets/vendor/uplot/uPlot.min.css", "text/css; charset=utf-8"),
    ],
)
def test_each_file_is_served_with_its_type_and_revalidated_by_etag(api, path, content_type):
    response = api.get(path)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == content_type
    # No fingerprints in the names: always revalidate, and a revalidation is a bodiless 304.
    assert response.headers["Cache-Control"] == "no-cache"
    revalidated = api.get(path, headers={"If-None-Match": response.headers["ETag"]})
    assert revalidated.status_code == 304
    assert revalidated.content == b""


def test_the_page_may_load_only_its_own_scripts_styles_and_api(api):
    policy = api.get("/").headers["Content-Security-Policy"]
    directives = dict(item.strip().split(" ", 1) for item in policy.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["connect-src"] == "'self'"
    assert directives["frame-ancestors"] == "'none'"


def test_the_page_refers_to_no_other_origin(api):
    html = api.get("/").text
    assert "http://" not in html and "https://" not in html and "//" not in html.replace("<!--", "")


def test_api_responses_keep_their_own_caching_headers(api):
    response = api.get("/api/jobs/summary/")
    assert response.status_code == 200
    assert "no-cache" not in response.headers.get("Cache-Control", "")


def test_a_missing_file_is_a_404_problem(api):
    response = api.get("/assets/missing.js")
    assert response.status_code == 404
    assert response.headers["Content-Type"] == PROBLEM
    assert response.json()["instance"] == "/assets/missing.js"


def test_the_folder_itself_is_not_listed(api):
    response = api.get("/assets/")
    assert response.status_code in (403, 404)
    assert response.headers["Content-Type"] == PROBLEM


@pytest.mark.parametrize("method", ["POST", "PUT", "DELETE", "PATCH"])
def test_writes_to_the_page_are_405_with_allow(api, method):
    response = api.request(method, "/", json={})
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"
    assert response.headers["Content-Type"] == PROBLEM
