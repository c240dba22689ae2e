import hashlib
import json
import logging
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from django.db import DatabaseError
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from command_service import services
from command_service.serializers import JobCreateInputSerializer, JobUpdateInputSerializer
from shared.api import consistency
from shared.api.etags import job_etag
from shared.api.openapi import problem_responses
from shared.api.serializers import JobOutputSerializer, job_data
from shared.api.views import JsonApiView
from shared.domain.models import IDEMPOTENCY_KEY_MAX_LENGTH, Job

logger = logging.getLogger("jobs.consistency")

IDEMPOTENCY_KEY = "Idempotency-Key"
IDEMPOTENT_REPLAYED = "Idempotent-Replayed"
# Visible ASCII, as long as the column that stores it: checked here, described as is.
_KEY_PATTERN = rf"^[\x21-\x7e]{{1,{IDEMPOTENCY_KEY_MAX_LENGTH}}}$"
_IDEMPOTENCY_KEY_PATTERN = re.compile(_KEY_PATTERN)
_KEY_TTL_HOURS = services.IDEMPOTENCY_KEY_TTL // timedelta(hours=1)

_ETAG_HEADER = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 201],
    description="The job's current state; send it back in If-Match to change only that state.",
)
_IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description="Change the job only if its ETag is one of these (or `*`); else 412.",
)


def _job_headers(job: Job) -> dict[str, str]:
    return {
        "Location": f"/api/jobs/{job.pk}/",
        "ETag": job_etag(job),
    }


class WriteApiView(JsonApiView):
    """A view of writes: every successful one answers a Consistency-Token (DRF's
    finalize_response hook, after the write's transaction committed)."""

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        response = super().finalize_response(request, response, *args, **kwargs)
        if not status.is_success(response.status_code):
            return response
        try:
            position = services.write_position()
        except DatabaseError:
            # The write committed, then the database went away: its success stands,
            # without a token (the client's next reads have the usual staleness bound).
            logger.warning("consistency token not issued: database unavailable after commit")
            return response
        response[consistency.HEADER] = consistency.issue(position)
        return response


def _idempotency_key(request: Request) -> str | None:
    key = request.headers.get(IDEMPOTENCY_KEY)
    if key is None:
        return None
    if not _IDEMPOTENCY_KEY_PATTERN.match(key):
        raise serializers.ValidationError(
            {
                IDEMPOTENCY_KEY: [
                    f"Must be 1 to {IDEMPOTENCY_KEY_MAX_LENGTH} visible ASCII characters "
                    "(a UUID is ideal)."
                ]
            }
        )
    return key


def _fingerprint(data: Mapping[str, Any]) -> str:
    """The body as parsed JSON, key order and whitespace aside."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


class JobCreateApi(WriteApiView):
    @extend_schema(
        operation_id="jobs_create",
        summary="Create a job",
        description=(
            "Creates the job with its first status event, PENDING, in one transaction. "
            f"With an Idempotency-Key, the same key and body within {_KEY_TTL_HOURS} hours "
            "give the first response again (with `Idempotent-Replayed: true`); the same key "
            "with another body is a 422; a duplicate while the first is still running is a 409."
        ),
        request=JobCreateInputSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_KEY,
                {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": IDEMPOTENCY_KEY_MAX_LENGTH,
                    "pattern": _KEY_PATTERN,
                },
                OpenApiParameter.HEADER,
                description="A unique key per intended job (e.g. a UUID), to retry safely.",
            ),
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="Path of the new job, e.g. /api/jobs/42/.",
            ),
            _ETAG_HEADER,
            OpenApiParameter(
                IDEMPOTENT_REPLAYED,
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="`true` when this is the stored response of an earlier request.",
            ),
        ],
        responses={
            201: OpenApiResponse(JobOutputSerializer, description="The new job."),
            **problem_responses(400, 409, 413, 415, 422),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = JobCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        key = _idempotency_key(request)
        if key is None:
            job = services.job_create(**serializer.validated_data)
            return Response(
                job_data(job),
                status=status.HTTP_201_CREATED,
                headers=_job_headers(job),
            )
        stored = services.job_create_idempotent(
            key=key,
            fingerprint=_fingerprint(request.data),
            respond=lambda job: (job_data(job), _job_headers(job)),
            **serializer.validated_data,
        )
        headers = dict(stored.headers)
        if stored.replayed:
            headers[IDEMPOTENT_REPLAYED] = "true"
        return Response(stored.body, status=stored.status_code, headers=headers)


class JobUpdateDeleteApi(WriteApiView):
    @extend_schema(
        operation_id="jobs_status_append",
        summary="Append a status to a job",
        description=(
            "Appends a status event (server-assigned timestamp, strictly after the job's "
            "previous one) and moves the job's current status to it; may also rename the job. "
            "With If-Match, a stale ETag is a 412 and changes nothing."
        ),
        request=JobUpdateInputSerializer,
        parameters=[_IF_MATCH, _ETAG_HEADER],
        responses={200: JobOutputSerializer, **problem_responses(400, 404, 412, 413, 415)},
    )
    def patch(self, request: Request, job_id: int) -> Response:
        serializer = JobUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.job_status_append(
            job_id=job_id, if_match=request.headers.get("If-Match"), **serializer.validated_data
        )
        headers = {"ETag": job_etag(job)}
        return Response(job_data(job), headers=headers)

    @extend_schema(
        operation_id="jobs_delete",
        summary="Delete a job",
        description=(
            "Deletes the job and all its status events. With If-Match, a stale ETag is a 412 "
            "and deletes nothing."
        ),
        request=None,
        parameters=[_IF_MATCH],
        responses={
            204: OpenApiResponse(description="Deleted, events too."),
            **problem_responses(404, 412),
        },
    )
    def delete(self, request: Request, job_id: int) -> Response:
        services.job_delete(job_id=job_id, if_match=request.headers.get("If-Match"))
        return Response(status=status.HTTP_204_NO_CONTENT)
