"""The error contract: every 4xx and 5xx leaves either service as RFC 9457 problem+json.

One DRF exception handler (``problem_exception_handler``) maps domain errors, DRF errors,
database unavailability and anything unexpected to a problem document. Django-level
handlers (``handler404`` and friends) cover what happens outside DRF views, so no error
page, stack trace or SQL text can reach a client.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, RequestDataTooBig
from django.db import DatabaseError, InterfaceError, OperationalError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from psycopg.errors import QueryCanceled
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from shared.problem_types import (
    IDEMPOTENCY_IN_FLIGHT,
    IDEMPOTENCY_REUSED,
    MALFORMED_BODY,
    PROBLEM_TYPE_BASE,
    PROBLEM_TYPES,
    QUERY_TIMEOUT,
    VALIDATION_ERROR,
)

logger = logging.getLogger("jobs.problems")

PROBLEM_CONTENT_TYPE = "application/problem+json"
INTERNAL_ERROR_DETAIL = "An unexpected error occurred. It has been logged."


class ProblemError(Exception):
    """A domain error that names its own answer, as DRF's APIException does: its status,
    its problem type and title (from the catalogue), the headers it needs, and a default
    detail. The handler looks these up instead of branching on classes."""

    status = 500
    problem = PROBLEM_TYPES[500]
    headers: Mapping[str, str] = {}
    default_detail = INTERNAL_ERROR_DETAIL

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class ResourceNotFound(ProblemError):
    """The thing asked for does not exist."""

    status = 404
    problem = PROBLEM_TYPES[404]
    default_detail = "The resource does not exist."


class JobNotFound(ResourceNotFound):
    """No job has this id (any more)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"Job {job_id} does not exist.")


class PreconditionFailed(ProblemError):
    """If-Match named a state of the job that is no longer current."""

    status = 412
    problem = PROBLEM_TYPES[412]


class IdempotencyKeyInFlight(ProblemError):
    """Another request with the same Idempotency-Key is being processed right now."""

    status = 409
    problem = IDEMPOTENCY_IN_FLIGHT
    headers = {"Retry-After": "1"}
    default_detail = "A request with this Idempotency-Key is still in progress; retry shortly."


class IdempotencyKeyReused(ProblemError):
    """The Idempotency-Key was first used with a different request body."""

    status = 422
    problem = IDEMPOTENCY_REUSED
    default_detail = "This Idempotency-Key was used with a different request body."


class ContentCodingUnsupported(ProblemError):
    """A body sent with a content coding (gzip...), which no endpoint accepts. RFC 9110
    (15.5.16) has the 415 say in Accept-Encoding what would have been accepted."""

    status = 415
    problem = PROBLEM_TYPES[415]
    headers = {"Accept-Encoding": "identity"}
    default_detail = (
        "Request bodies are not accepted with a content coding (Content-Encoding); send plain JSON."
    )


DATABASE_UNAVAILABLE_DETAIL = "The database is unavailable. Retry shortly."


def problem_body(
    *,
    status_code: int,
    detail: str,
    request: HttpRequest | None,
    problem: tuple[str, str] | None = None,
    errors: dict[str, list[str]] | None = None,
) -> dict[str, Any]:
    """Build one problem document; the only place that knows the shape."""
    slug, title = problem or PROBLEM_TYPES.get(status_code, ("error", "Error"))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + slug,
        "title": title,
        "status": status_code,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.path
    if errors is not None:
        body["errors"] = errors
    request_id = getattr(request, "request_id", None)
    if request_id:
        body["request_id"] = request_id
    return body


def flatten_errors(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """Turn DRF's nested error detail into ``{"field": ["message", ...]}``.

    Nested fields are joined with dots (``items.0.name``); errors not tied to a field go
    under ``non_field_errors``, DRF's own name for them, so frontends know the key.
    """
    if isinstance(detail, Mapping):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = f"{prefix}.{key}" if prefix else str(key)
            for field, messages in flatten_errors(value, name).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        flat = {}
        for index, item in enumerate(detail):
            nested_prefix = f"{prefix}.{index}" if isinstance(item, Mapping | list) else prefix
            for field, messages in flatten_errors(item, nested_prefix).items():
                flat.setdefault(field, []).extend(messages)
        return flat
    return {prefix or "non_field_errors": [str(detail)]}


def _summary(errors: dict[str, list[str]]) -> str:
    return "; ".join(f"{field}: {' '.join(messages)}" for field, messages in errors.items())


def _drf_detail_text(detail: Any) -> str:
    if isinstance(detail, str):
        return detail
    return _summary(flatten_errors(detail))


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER for both services: every error becomes problem+json."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    headers: dict[str, str] = {}

    if isinstance(exc, ProblemError):
        headers.update(exc.headers)
        body = problem_body(
            status_code=exc.status, detail=exc.detail, request=django_request, problem=exc.problem
        )
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        body = problem_body(
            status_code=404, detail="The resource does not exist.", request=django_request
        )
    elif isinstance(exc, RequestDataTooBig):
        body = problem_body(
            status_code=413, detail="The request body is too large.", request=django_request
        )
    elif isinstance(exc, drf_exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem_body(
            status_code=400,
            detail=_summary(errors),
            request=django_request,
            problem=VALIDATION_ERROR,
            errors=errors,
        )
    elif isinstance(exc, drf_exceptions.ParseError):
        body = problem_body(
            status_code=400,
            detail=_drf_detail_text(exc.detail),
            request=django_request,
            problem=MALFORMED_BODY,
        )
    elif isinstance(exc, drf_exceptions.APIException):
        if getattr(exc, "auth_header", None):
            headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
        if getattr(exc, "wait", None):
            headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
        body = problem_body(
            status_code=exc.status_code,
            detail=_drf_detail_text(exc.detail),
            request=django_request,
        )
    elif isinstance(exc, PermissionDenied):
        body = problem_body(status_code=403, detail="Forbidden.", request=django_request)
    elif isinstance(exc, OperationalError) and isinstance(exc.__cause__, QueryCanceled):
        # The statement timeout of the read side: the database is fine, this read is not.
        # No Retry-After: the same request would take as long again.
        logger.warning("read cancelled by the statement timeout")
        body = problem_body(
            status_code=503,
            detail=(
                "This read took too long and was stopped. Search terms of three or more "
                "characters use the search index; a shorter one that matches few jobs has "
                "to read every job. Narrow the request and try again."
            ),
            request=django_request,
            problem=QUERY_TIMEOUT,
        )
    elif isinstance(exc, OperationalError | InterfaceError):
        logger.warning("database unavailable: %s", exc.__class__.__name__)
        headers["Retry-After"] = "1"
        body = problem_body(
            status_code=503, detail=DATABASE_UNAVAILABLE_DETAIL, request=django_request
        )
    else:
        if isinstance(exc, DatabaseError):
            logger.exception("database error")
        else:
            logger.exception("unhandled error")
        body = problem_body(
            status_code=500,
            detail=INTERNAL_ERROR_DETAIL,
            request=django_request,
        )

    set_rollback()
    return Response(body, status=body["status"], headers=headers, content_type=PROBLEM_CONTENT_TYPE)


def problem_response(request: HttpRequest, status_code: int, detail: str) -> HttpResponse:
    """A problem+json response for code paths outside DRF (Django's error handlers)."""
    return JsonResponse(
        problem_body(status_code=status_code, detail=detail, request=request),
        status=status_code,
        content_type=PROBLEM_CONTENT_TYPE,
    )


def handler400(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(request, 400, "The request could not be understood.")


def handler403(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(request, 403, "Forbidden.")


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(request, 404, "No resource at this path.")


def handler500(request: HttpRequest) -> HttpResponse:
    return problem_response(request, 500, INTERNAL_ERROR_DETAIL)
