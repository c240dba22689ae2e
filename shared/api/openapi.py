"""Helpers that describe the error contract in each service's half of the OpenAPI description."""

import copy
import re

from drf_spectacular.utils import OpenApiResponse

from shared.api.problem_types import RETRY_AFTER_REQUIRED
from shared.api.problems import PROBLEM_CONTENT_TYPE
from shared.api.request_ids import (
    REQUEST_ID_CHARACTERS,
    REQUEST_ID_MAX_LENGTH,
    REQUEST_ID_PATTERN,
)
from shared.api.serializers import ProblemSerializer

_DESCRIPTIONS = {
    400: "Invalid request: bad body, field, header or query parameter, or a request the "
    "gateway could not parse.",
    404: "No such job, or no resource at this path.",
    405: "The path does not serve this method (see the Allow header).",
    409: "A request with the same Idempotency-Key is still in progress; retry.",
    412: "If-Match does not name the job's current state (its ETag).",
    413: "The request body is too large.",
    414: "The request URI is too long (gateway).",
    415: "The body is not application/json in UTF-8, or it has a Content-Encoding.",
    422: "The Idempotency-Key was first used with another body.",
    429: "Too many requests from this client.",
    431: "The request headers are too large (gateway).",
    500: "Unexpected error (logged with the request id).",
    502: "The service behind the gateway is unreachable.",
    503: "The database or the service is unavailable; retry shortly. Or, with the type "
    "`query-timeout`, a read took too long and was stopped: narrow it (no Retry-After). "
    "Or, on a read with the type `consistency-unavailable`, the token's write is not "
    "readable yet: retry with the same token.",
    504: "The service behind the gateway took too long.",
}

# Errors any operation can get, from the gateway or from the service itself.
COMMON_ERRORS = (400, 405, 414, 429, 431, 500, 502, 503, 504)


def problem_responses(*status_codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Problem+json responses for the given statuses, plus those every operation can get."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer, description=_DESCRIPTIONS[code]
        )
        for code in sorted({*status_codes, *COMMON_ERRORS})
    }


def close_request_bodies(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular postprocessing hook: request bodies allow no other properties.

    Every input serializer is a StrictSerializer (unknown fields are a 400), and the
    description must say so, or clients and fuzzers assume extra fields are fine.
    """
    for name, schema in result.get("components", {}).get("schemas", {}).items():
        if name.endswith("Request") and schema.get("type") == "object":
            schema["additionalProperties"] = False
    return result


def allow_empty_query_values(
    result: dict, generator: object, request: object, public: bool
) -> dict:
    """drf-spectacular postprocessing hook: a query parameter whose schema takes "" says
    so with `allowEmptyValue` (OpenAPI 3.0 forbids `?name=` otherwise, whatever the
    schema). `search=`, what a cleared search box sends, is no search."""
    from jsonschema import Draft4Validator  # drf-spectacular's own dependency; only here

    for path in result.get("paths", {}).values():
        for operation in path.values():
            for parameter in operation.get("parameters", []):
                if parameter.get("in") == "query" and Draft4Validator(
                    parameter.get("schema", {})
                ).is_valid(""):
                    parameter["allowEmptyValue"] = True
    return result


def drop_anonymous_security(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular postprocessing hook: no `security` on operations anyone may call.

    drf-spectacular writes `security: [{}]` for AllowAny views (no setting turns it off),
    and client generators read any `security` as "needs an authenticated client"; this API
    has no authentication at all.
    """
    for path in result.get("paths", {}).values():
        for operation in path.values():
            if all(requirement == {} for requirement in operation.get("security", [{}])):
                operation.pop("security", None)
    return result


def _enum_member_name(value: str) -> str:
    """`-created_at` -> `CREATED_AT_DESC`: what a generated enum calls an ordering."""
    descending = value.startswith("-")
    name = re.sub(r"\W", "_", value.lstrip("-")).upper()
    return f"{name}_DESC" if descending else name


def name_enum_members(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular postprocessing hook: `x-enum-varnames` for every enum with a value
    that is not an identifier, which generators otherwise name VALUE_1, VALUE_3, ..."""

    def visit(node: object) -> None:
        if isinstance(node, dict):
            values = node.get("enum")
            if isinstance(values, list) and not all(
                isinstance(value, str) and value.isidentifier() for value in values
            ):
                names = [_enum_member_name(str(value)) for value in values]
                assert len(set(names)) == len(names), f"enum names collide: {names}"
                node["x-enum-varnames"] = names
            for child in node.values():
                visit(child)
        elif isinstance(node, list):
            for child in node:
                visit(child)

    visit(result)
    return result


def add_head_operations(result: dict, generator: object, request: object, public: bool) -> dict:
    """drf-spectacular postprocessing hook: every GET also answers HEAD (Django and the
    gateway serve it), with the same parameters, statuses and headers and no body.

    drf-spectacular leaves HEAD out; a client or checker that reads the description would
    take the gateway's `Allow: GET, HEAD, ...` for a lie.
    """
    for path in result.get("paths", {}).values():
        get = path.get("get")
        if get is None or "head" in path:
            continue
        head = copy.deepcopy(get)
        head["operationId"] = f"{get['operationId']}_head"
        head["summary"] = f"{get['summary']}: headers only"
        head["description"] = "As GET, with the same status and headers and no body."
        for response in head.get("responses", {}).values():
            response.pop("content", None)
        path["head"] = head
    return result


# The gateway's headers (gateway/default.conf.template), in every operation's description.
GATEWAY_HEADERS = {
    "RequestId": {
        "description": "This request's id: yours when you sent a plain token in X-Request-ID, "
        "else the gateway's. Also a problem's `request_id` and in every log line.",
        "required": True,
        "schema": {"type": "string", "pattern": REQUEST_ID_PATTERN.pattern},
    },
    "RetryAfter": {
        "description": "Seconds to wait before retrying.",
        "required": True,
        "schema": {"type": "integer", "minimum": 0},
    },
    "RetryAfterUnlessQueryTimeout": {
        "description": "Seconds to wait before retrying; absent on a `query-timeout` problem.",
        "schema": {"type": "integer", "minimum": 0},
    },
    "Allow": {
        "description": "The methods this path serves, e.g. `GET, HEAD, POST, OPTIONS`.",
        "required": True,
        "schema": {"type": "string"},
    },
}
REQUEST_ID_PARAMETER = {
    "in": "header",
    "name": "X-Request-ID",
    "schema": {"type": "string"},
    "description": "Your id for this request, to find it in the logs: kept and echoed when "
    f"it is a plain token of 1 to {REQUEST_ID_MAX_LENGTH} characters of "
    f"`{REQUEST_ID_CHARACTERS}`, else replaced by the "
    "gateway's own (never refused).",
    "example": "trace-42",
}


def describe_gateway_headers(
    result: dict, generator: object, request: object, public: bool
) -> dict:
    """drf-spectacular postprocessing hook: the headers the gateway adds or reads on every
    operation. X-Request-ID on every response (and as an optional request header),
    Retry-After where a retry can help, Allow on a 405."""
    result.setdefault("components", {}).setdefault("headers", {}).update(
        copy.deepcopy(GATEWAY_HEADERS)
    )
    for path in result.get("paths", {}).values():
        for operation in path.values():
            operation.setdefault("parameters", []).append(copy.deepcopy(REQUEST_ID_PARAMETER))
            for status_code, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                headers["X-Request-ID"] = {"$ref": "#/components/headers/RequestId"}
                if status_code in RETRY_AFTER_REQUIRED:
                    name = (
                        "RetryAfter"
                        if RETRY_AFTER_REQUIRED[status_code]
                        else "RetryAfterUnlessQueryTimeout"
                    )
                    headers["Retry-After"] = {"$ref": f"#/components/headers/{name}"}
                if status_code == "405":
                    headers["Allow"] = {"$ref": "#/components/headers/Allow"}
    return result


CONSISTENCY_TOKEN_HEADER = {
    "description": "This write's position in the database's log, signed. Send it back in "
    "Consistency-Token on your next reads: they are answered only from data that includes "
    "this write. Opaque: send it unchanged.",
    "required": True,
    "schema": {"type": "string"},
}
CONSISTENCY_TOKEN_PARAMETER = {
    "in": "header",
    "name": "Consistency-Token",
    "schema": {"type": "string"},
    "description": "The Consistency-Token of your last write: this read then includes it. "
    "A value this API did not issue is a 400 (`consistency-token-invalid`).",
}

# What an answer read from a standby says about itself (docs/decisions.md, "Reads from
# standbys").
READ_SOURCE_HEADERS = {
    "Data-Staleness": {
        "description": "Present when the answer was read from a standby for this request: "
        "at most how many seconds its data may be behind the primary (bounded by the "
        "service's MAX_REPLICA_LAG while the primary is reachable). Absent: read from the "
        "primary (current), or answered from the gateway's cache when that is on (then at "
        "most its GATEWAY_CACHE_SECONDS + 1 s older), or the lag is unknown (the primary "
        "away since the service started). A read with a Consistency-Token always includes "
        "that token's write.",
        "schema": {"type": "string", "pattern": "^[0-9]+\\.[0-9]{3}$"},
    },
    "Service-Mode": {
        "description": "`read-only` while the primary database cannot be reached: reads "
        "are answered from a standby, writes are refused (503) until it is back.",
        "schema": {"type": "string", "enum": ["read-only"]},
    },
}


def describe_consistency_tokens(
    result: dict, generator: object, request: object, public: bool
) -> dict:
    """drf-spectacular postprocessing hook: every successful write answers a
    Consistency-Token; every read takes one (each read view declares the 400 of a forged one)."""
    result.setdefault("components", {}).setdefault("headers", {})["ConsistencyToken"] = (
        copy.deepcopy(CONSISTENCY_TOKEN_HEADER)
    )
    for path in result.get("paths", {}).values():
        for method, operation in path.items():
            responses = operation.get("responses", {})
            if method in ("post", "patch", "put", "delete"):
                for status_code, response in responses.items():
                    if status_code.startswith("2"):
                        response.setdefault("headers", {})["Consistency-Token"] = {
                            "$ref": "#/components/headers/ConsistencyToken"
                        }
            elif method in ("get", "head"):
                operation.setdefault("parameters", []).append(
                    copy.deepcopy(CONSISTENCY_TOKEN_PARAMETER)
                )
                _describe_read_source(responses)
    return result


def _describe_read_source(responses: dict) -> None:
    for status_code, response in responses.items():
        if status_code in ("200", "304"):
            response.setdefault("headers", {}).update(copy.deepcopy(READ_SOURCE_HEADERS))
