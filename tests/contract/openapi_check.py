"""Validates responses seen through the gateway against the one OpenAPI description.

openapi-core ships adapters for requests, Django, Flask and others but not for httpx;
these two small classes are that adapter (its documented Request/Response protocols).
"""

from __future__ import annotations

import json
import re
from functools import cached_property
from urllib.parse import parse_qsl

import httpx
import jsonschema
import yaml
from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.templating.paths.exceptions import OperationNotFound, PathNotFound
from werkzeug.datastructures import Headers, ImmutableMultiDict

from stack.openapi import DESCRIPTION_PATH

PROBLEM_JSON = "application/problem+json"
NON_API_PATHS = ("/api/schema/", "/api/docs/", "/api/static/")


class HttpxOpenAPIRequest:
    def __init__(self, request: httpx.Request) -> None:
        self.request = request
        query = parse_qsl(request.url.query.decode(), keep_blank_values=True)
        self.parameters = RequestParameters(
            query=ImmutableMultiDict(query),
            header=Headers(dict(request.headers)),
            cookie=ImmutableMultiDict(),
        )

    @property
    def host_url(self) -> str:
        return f"{self.request.url.scheme}://{self.request.url.netloc.decode()}"

    @property
    def path(self) -> str:
        return self.request.url.path

    @property
    def method(self) -> str:
        return self.request.method.lower()

    @property
    def body(self) -> bytes | None:
        return self.request.content or None

    @property
    def content_type(self) -> str:
        return self.request.headers.get("Content-Type", "")


class HttpxOpenAPIResponse:
    def __init__(self, response: httpx.Response) -> None:
        self.response = response

    @property
    def data(self) -> bytes:
        return self.response.content

    @property
    def status_code(self) -> int:
        return self.response.status_code

    @property
    def content_type(self) -> str:
        return self.response.headers.get("Content-Type", "")

    @property
    def headers(self) -> Headers:
        return Headers(dict(self.response.headers))


class ContractChecker:
    """Checks every response against the description; counts what it checked."""

    def __init__(self) -> None:
        # openapi-core knows application/json; problem+json is JSON too.
        config = Config(extra_media_type_deserializers={PROBLEM_JSON: json.loads})
        self.openapi = OpenAPI.from_file_path(str(DESCRIPTION_PATH), config=config)
        self.checked_operations: set[tuple[str, str, int]] = set()

    @cached_property
    def problem_schema(self) -> dict:
        return yaml.safe_load(DESCRIPTION_PATH.read_text())["components"]["schemas"]["Problem"]

    def check(self, response: httpx.Response) -> None:
        response.read()
        if response.status_code >= 400:
            self.check_problem(response)
        try:
            if response.status_code < 400:
                # What the API accepted, the description must allow too (schemathesis's
                # ST201 found `search=` accepted while the description refused it).
                self.openapi.validate_request(HttpxOpenAPIRequest(response.request))
            self.openapi.validate_response(
                HttpxOpenAPIRequest(response.request), HttpxOpenAPIResponse(response)
            )
        except (PathNotFound, OperationNotFound):
            # Not an operation of the API: the gateway's own 404s and 405s (checked as
            # problem documents above) or the description and docs pages themselves.
            assert response.status_code in (404, 405) or response.request.url.path.startswith(
                NON_API_PATHS
            ), (response.request.url, response)
            return
        route = re.sub(r"^/api/jobs/[0-9]+/", "/api/jobs/{job_id}/", response.request.url.path)
        self.checked_operations.add((response.request.method, route, response.status_code))

    def unchecked_operations(self) -> set[tuple[str, str]]:
        """Documented operations no test saw succeed: each must be checked at least once."""
        paths = yaml.safe_load(DESCRIPTION_PATH.read_text())["paths"]
        documented = {(method.upper(), path) for path, ops in paths.items() for method in ops}
        succeeded = {(m, p) for m, p, status in self.checked_operations if status < 400}
        return documented - succeeded

    def check_problem(self, response: httpx.Response) -> None:
        assert response.headers["Content-Type"] == PROBLEM_JSON, response.text
        if response.request.method == "HEAD":
            return  # the problem's headers without its body
        body = json.loads(response.content)
        jsonschema.validate(body, self.problem_schema)
        assert body["status"] == response.status_code
        assert body["type"].startswith("https://jobs.example/problems/")
        assert body["request_id"] == response.headers["X-Request-ID"]
