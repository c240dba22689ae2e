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
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import set_rollback

from shared.api.problem_types import (
    FORBIDDEN_DETAIL,
    IDEMPOTENCY_IN_FLIGHT,
    IDEMPOTENCY_REUSED,
    MALFORMED_BODY,
    NO_RESOURCE_DETAIL,
    PROBLEM_TYPE_BASE,
    PROBLEM_TYPES,
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

    def __init_subclass__(cls) -> None:
        # A class that names only its status takes that status's type from the catalogue.
        if "status" in cls.__dict__ and "problem" not in cls.__dict__:
            cls.problem = PROBLEM_TYPES[cls.status]

    def __init__(self, detail: str | None = None) -> None:
        self.detail = detail or self.default_detail
        super().__init__(self.detail)


class ResourceNotFound(ProblemError):
    """The thing asked for does not exist."""

    status = 404
    default_detail = "The resource does not exist."


class JobNotFound(ResourceNotFound):
    """No job has this id (any more)."""

    def __init__(self, job_id: int) -> None:
        super().__init__(f"Job {job_id} does not exist.")


class PreconditionFailed(ProblemError):
    """If-Match named a state of the job that is no longer current."""

    status = 412
    default_detail = "The resource has changed since the state If-Match names."


class JobChanged(PreconditionFailed):
    """If-Match named another state of this job than its current one."""

    def __init__(self, job_id: int, current_etag: str) -> None:
        super().__init__(
            f"Job {job_id} has changed: its current ETag is {current_etag}. "
            "Fetch it again and retry."
        )


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
    headers = {"Accept-Encoding": "identity"}
    default_detail = (
        "Request bodies are not accepted with a content coding (Content-Encoding); send plain JSON."
    )


class PayloadTooLarge(ProblemError):
    status = 413
    default_detail = "The request body is too large."


class Forbidden(ProblemError):
    status = 403
    default_detail = FORBIDDEN_DETAIL


class DatabaseUnavailable(ProblemError):
    """The database cannot be reached or dropped the connection: worth a retry."""

    status = 503
    headers = {"Retry-After": "1"}
    default_detail = "The database is unavailable. Retry shortly."


# Django's and the database driver's errors, as the problems they are (in this order: a
# query cancelled by its timeout is an OperationalError the query service names itself).
_TRANSLATED: tuple[
    tuple[type[Exception] | tuple[type[Exception], ...], type[ProblemError]], ...
] = (
    ((Http404, ObjectDoesNotExist), ResourceNotFound),
    (RequestDataTooBig, PayloadTooLarge),
    (PermissionDenied, Forbidden),
    ((OperationalError, InterfaceError), DatabaseUnavailable),
)


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


def _as_problem(exc: Exception) -> ProblemError | None:
    if isinstance(exc, ProblemError):
        return exc
    for raised, problem in _TRANSLATED:
        if isinstance(exc, raised):
            if problem is DatabaseUnavailable:
                logger.warning("database unavailable: %s", exc.__class__.__name__)
            return problem()
    return None


def _drf_problem(exc: drf_exceptions.APIException, request: Any) -> tuple[dict, dict[str, str]]:
    """DRF's own errors: a validation error names its fields, a parse error is a malformed
    body, the rest keep DRF's status (and its WWW-Authenticate or Retry-After)."""
    if isinstance(exc, drf_exceptions.ValidationError):
        errors = flatten_errors(exc.detail)
        body = problem_body(
            status_code=400,
            detail=_summary(errors),
            request=request,
            problem=VALIDATION_ERROR,
            errors=errors,
        )
        return body, {}
    problem = MALFORMED_BODY if isinstance(exc, drf_exceptions.ParseError) else None
    body = problem_body(
        status_code=exc.status_code,
        detail=_drf_detail_text(exc.detail),
        request=request,
        problem=problem,
    )
    headers = {}
    if getattr(exc, "auth_header", None):
        headers["WWW-Authenticate"] = exc.auth_header  # type: ignore[attr-defined]
    if getattr(exc, "wait", None):
        headers["Retry-After"] = str(int(exc.wait))  # type: ignore[attr-defined]
    return body, headers


def problem_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response | None:
    """DRF's EXCEPTION_HANDLER for both services: every error becomes problem+json."""
    request = context.get("request")
    django_request = getattr(request, "_request", request)
    if (problem := _as_problem(exc)) is not None:
        headers = dict(problem.headers)
        body = problem_body(
            status_code=problem.status,
            detail=problem.detail,
            request=django_request,
            problem=problem.problem,
        )
    elif isinstance(exc, drf_exceptions.APIException):
        body, headers = _drf_problem(exc, django_request)
    else:
        logger.exception("database error" if isinstance(exc, DatabaseError) else "unhandled error")
        headers = {}
        body = problem_body(status_code=500, detail=INTERNAL_ERROR_DETAIL, request=django_request)
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
    return problem_response(request, 403, Forbidden.default_detail)


def handler404(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    return problem_response(request, 404, NO_RESOURCE_DETAIL)


def handler500(request: HttpRequest) -> HttpResponse:
    return problem_response(request, 500, INTERNAL_ERROR_DETAIL)
