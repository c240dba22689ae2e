"""The catalogue of problem types: what every problem document of the API may say in
`type` and `title`, from either service (shared/api/problems.py) or the gateway. Plain data,
importable without Django: `make gateway-config` (stack/gateway_config.py) writes the
gateway's problem documents and Retry-After rules from it."""

PROBLEM_TYPE_BASE = "https://jobs.example/problems/"

# status -> (slug of the problem type, title). Titles are fixed per type, as RFC 9457 asks.
PROBLEM_TYPES: dict[int, tuple[str, str]] = {
    400: ("bad-request", "Bad request"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    406: ("not-acceptable", "Not acceptable"),
    413: ("payload-too-large", "Payload too large"),
    409: ("conflict", "Conflict"),
    412: ("precondition-failed", "Precondition failed"),
    415: ("unsupported-media-type", "Unsupported media type"),
    422: ("unprocessable-content", "Unprocessable content"),
    429: ("rate-limited", "Too many requests"),
    500: ("internal-error", "Internal server error"),
    503: ("service-unavailable", "Service unavailable"),
}
# Answered by the gateway alone (its documents are generated from these titles and the
# ones above; which status nginx answers with which type is in stack/gateway_config.py).
GATEWAY_PROBLEM_TYPES: dict[str, str] = {
    "request-timeout": "Request timeout",
    "uri-too-long": "URI too long",
    "headers-too-large": "Request header fields too large",
    "range-not-satisfiable": "Range not satisfiable",
    "transfer-coding-not-supported": "Transfer coding not supported",
    "http-version-not-supported": "HTTP version not supported",
    "bad-gateway": "Bad gateway",
    "gateway-timeout": "Gateway timeout",
}
VALIDATION_ERROR = ("validation-error", "Invalid request")
IDEMPOTENCY_IN_FLIGHT = ("idempotency-key-in-flight", "Request in progress")
IDEMPOTENCY_REUSED = ("idempotency-key-reused", "Idempotency key reused")
MALFORMED_BODY = ("malformed-body", "Malformed request body")
QUERY_TIMEOUT = ("query-timeout", "Query took too long")
CONSISTENCY_TOKEN_INVALID = ("consistency-token-invalid", "Invalid consistency token")
CONSISTENCY_UNAVAILABLE = ("consistency-unavailable", "Write not readable yet")

# The statuses whose answers carry Retry-After, set by the gateway (its rules are generated
# from this, as is the OpenAPI description's): True where it is always 1, False where it is
# the service's own (a 503: 1 for an outage, none for a query-timeout, since the same read
# would take as long again).
RETRY_AFTER_REQUIRED = {"409": True, "429": True, "502": True, "503": False}

# Details both the services and the gateway write for the same answer.
FORBIDDEN_DETAIL = "Forbidden."
NO_RESOURCE_DETAIL = "No resource at this path."
