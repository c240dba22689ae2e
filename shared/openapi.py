"""Helpers that describe the error contract in each service's half of the OpenAPI description."""

from drf_spectacular.utils import OpenApiResponse

from shared.problems import PROBLEM_CONTENT_TYPE
from shared.serializers import ProblemSerializer

_DESCRIPTIONS = {
    400: "Invalid request: bad body, field or query parameter.",
    404: "No such job, or no resource at this path.",
    405: "The path does not serve this method (see the Allow header).",
    409: "A request with the same Idempotency-Key is still in progress; retry.",
    412: "If-Match does not name the job's current state (its ETag).",
    413: "The request body is too large.",
    415: "The body is not application/json.",
    422: "The Idempotency-Key was first used with another body.",
    429: "Too many requests from this client.",
    500: "Unexpected error (logged with the request id).",
    502: "The service behind the gateway is unreachable.",
    503: "The database or the service is unavailable; retry shortly.",
    504: "The service behind the gateway took too long.",
}

# Errors any operation can get, from the gateway or from the service itself.
COMMON_ERRORS = (405, 429, 500, 502, 503, 504)


def problem_responses(*status_codes: int) -> dict[tuple[int, str], OpenApiResponse]:
    """Problem+json responses for the given statuses, plus those every operation can get."""
    return {
        (code, PROBLEM_CONTENT_TYPE): OpenApiResponse(
            response=ProblemSerializer, description=_DESCRIPTIONS[code]
        )
        for code in sorted({*status_codes, *COMMON_ERRORS})
    }
