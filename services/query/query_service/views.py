import hashlib
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db.models import QuerySet
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from query_service import selectors
from query_service.pagination import KeysetPagination, ValidatedLimitOffsetPagination
from query_service.serializers import (
    JobListFilterSerializer,
    JobPageSerializer,
    JobStatusPageSerializer,
    JobSummarySerializer,
    PageParamsSerializer,
    job_page_values,
    job_status_page_values,
    lean_rows,
    query_params_data,
)
from shared.etags import if_none_match_hit, job_etag
from shared.openapi import problem_responses
from shared.serializers import JobOutputSerializer
from shared.views import JsonApiView

_IF_NONE_MATCH = OpenApiParameter(
    "If-None-Match",
    str,
    OpenApiParameter.HEADER,
    description="ETags the client has; 304 without a body when one is current.",
)
_ETAG = OpenApiParameter(
    "ETag",
    str,
    OpenApiParameter.HEADER,
    response=[200, 304],
    description="Names this response's data; send it back in If-None-Match.",
)
_NOT_MODIFIED = OpenApiResponse(description="Not modified: the ETag sent is current.")


def _not_modified(request: Request, etag: str) -> Response | None:
    """A 304 when the client's If-None-Match names `etag`; checked before any page query."""
    header = request.headers.get("If-None-Match")
    if header and if_none_match_hit(header, etag):
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    return None


def _versioned_etag(request: Request, version: str) -> str:
    """A data version plus what was asked for (path, query, host: links are absolute)."""
    asked = f"{request.get_host()}{request.get_full_path()}".encode()
    return f'"{version}.{hashlib.sha256(asked).hexdigest()[:16]}"'


def _page(
    request: Request,
    params: dict[str, Any],
    rows: QuerySet,
    *,
    keyset: KeysetPagination,
    count: int | None = None,
    count_exact: bool = True,
) -> Response:
    """One page of `rows` in the mode the parameters ask for: cursor (keyset) or offsets.

    `count` comes from the caller when it has a cheaper one than COUNT(*) of `rows`.
    """
    if params["pagination"] == "cursor":
        page = keyset.paginate(rows, request, limit=params["limit"], cursor=params.get("cursor"))
        total = rows.count() if count is None else count
        return keyset.get_paginated_response(page, count=total, count_exact=count_exact)
    offsets = ValidatedLimitOffsetPagination()
    offset_page = offsets.paginate(
        rows,
        request,
        limit=params["limit"],
        offset=params["offset"],
        count=count,
        count_exact=count_exact,
    )
    return offsets.get_paginated_response(lean_rows(list(offset_page)))


class JobListApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_list",
        summary="List jobs",
        description=(
            "A page of jobs, newest first by default, filtered by current status and by a "
            "case-insensitive substring of the name. Offsets (default) go to 10000; "
            "`pagination=cursor` pages at any depth by following next/previous. Unknown or "
            "malformed parameters are a 400."
        ),
        parameters=[JobListFilterSerializer, _IF_NONE_MATCH, _ETAG],
        responses={200: JobPageSerializer, 304: _NOT_MODIFIED, **problem_responses(400)},
    )
    def get(self, request: Request) -> Response:
        filters = JobListFilterSerializer(
            data=query_params_data(request.query_params, multi_valued=("status",))
        )
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        counts = selectors.job_counts()
        etag = _versioned_etag(request, str(counts.version))
        if (cached := _not_modified(request, etag)) is not None:
            return cached

        statuses, search, ordering = params.get("status"), params.get("search"), params["ordering"]
        jobs = selectors.job_list(statuses=statuses, search=search or None, ordering=ordering)
        count, exact = selectors.job_list_count(
            statuses=statuses, search=search or None, jobs=jobs, counts=counts
        )
        keyset = KeysetPagination(
            ordering=ordering,
            field=ordering.lstrip("-"),
            descending=ordering.startswith("-"),
            shape=lean_rows,
        )
        response = _page(
            request, params, job_page_values(jobs), keyset=keyset, count=count, count_exact=exact
        )
        response["ETag"] = etag
        return response


class JobSummaryApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_summary",
        summary="Count jobs per status",
        description="Exact counts, total and per current status, at any table size.",
        parameters=[_IF_NONE_MATCH, _ETAG],
        responses={200: JobSummarySerializer, 304: _NOT_MODIFIED, **problem_responses()},
    )
    def get(self, request: Request) -> Response:
        counts = selectors.job_counts()
        etag = f'"summary.{counts.version}"'
        if (cached := _not_modified(request, etag)) is not None:
            return cached
        body = {"total": counts.total, "by_status": counts.by_status}
        return Response(JobSummarySerializer(body).data, headers={"ETag": etag})


class JobDetailApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Get one job",
        description=(
            "The job with its current status, and its ETag. With If-None-Match naming that "
            "ETag, a 304 without a body."
        ),
        parameters=[_IF_NONE_MATCH, _ETAG],
        responses={200: JobOutputSerializer, 304: _NOT_MODIFIED, **problem_responses(404)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(job_id=job_id)
        etag = job_etag(job)
        if (cached := _not_modified(request, etag)) is not None:
            return cached
        return Response(JobOutputSerializer(job).data, headers={"ETag": etag})


class JobStatusListApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_statuses_list",
        summary="A job's status history",
        description=(
            "A page of the job's status events, newest first; 404 when the job does not "
            "exist. Offsets or `pagination=cursor`, as for the list."
        ),
        parameters=[PageParamsSerializer, _IF_NONE_MATCH, _ETAG],
        responses={
            200: JobStatusPageSerializer,
            304: _NOT_MODIFIED,
            **problem_responses(400, 404),
        },
    )
    def get(self, request: Request, job_id: int) -> Response:
        page_params = PageParamsSerializer(data=query_params_data(request.query_params))
        page_params.is_valid(raise_exception=True)
        params = page_params.validated_data
        job, events = selectors.job_status_list(job_id=job_id)
        version = job_etag(job).strip('"')
        etag = _versioned_etag(request, version)
        if (cached := _not_modified(request, etag)) is not None:
            return cached
        keyset = KeysetPagination(
            ordering="-timestamp", field="timestamp", descending=True, shape=lean_rows
        )
        response = _page(request, params, job_status_page_values(events), keyset=keyset)
        response["ETag"] = etag
        return response


@lru_cache(maxsize=1)
def _openapi_description() -> bytes:
    return settings.OPENAPI_DESCRIPTION_PATH.read_bytes()


class OpenApiDescriptionApi(APIView):
    """Serves the committed OpenAPI description of the whole API (both services' halves)."""

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(
            _openapi_description(), content_type="application/vnd.oai.openapi; charset=utf-8"
        )
