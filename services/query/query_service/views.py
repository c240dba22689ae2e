from functools import lru_cache

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from query_service import selectors
from query_service.pagination import ValidatedLimitOffsetPagination
from query_service.serializers import (
    JobListFilterSerializer,
    JobPageSerializer,
    JobStatusPageSerializer,
    PageParamsSerializer,
    query_params_data,
)
from shared.etags import if_none_match_hit, job_etag
from shared.openapi import problem_responses
from shared.serializers import JobOutputSerializer, JobStatusOutputSerializer
from shared.views import JsonApiView


class JobListApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_list",
        summary="List jobs",
        description=(
            "A page of jobs, newest first by default, filtered by current status and by a "
            "case-insensitive substring of the name. Unknown or malformed parameters are a 400."
        ),
        parameters=[JobListFilterSerializer],
        responses={200: JobPageSerializer, **problem_responses(400)},
    )
    def get(self, request: Request) -> Response:
        filters = JobListFilterSerializer(
            data=query_params_data(request.query_params, multi_valued=("status",))
        )
        filters.is_valid(raise_exception=True)
        params = filters.validated_data
        jobs = selectors.job_list(
            statuses=params.get("status"),
            search=params.get("search") or None,
            ordering=params["ordering"],
        )
        paginator = ValidatedLimitOffsetPagination()
        page = paginator.paginate(jobs, request, limit=params["limit"], offset=params["offset"])
        return paginator.get_paginated_response(JobOutputSerializer(page, many=True).data)


class JobDetailApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Get one job",
        description=(
            "The job with its current status, and its ETag. With If-None-Match naming that "
            "ETag, a 304 without a body."
        ),
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                description="ETags the client has; 304 when one is current.",
            ),
            OpenApiParameter(
                "ETag",
                str,
                OpenApiParameter.HEADER,
                response=[200, 304],
                description="The job's current state, for If-None-Match and If-Match.",
            ),
        ],
        responses={
            200: JobOutputSerializer,
            304: OpenApiResponse(description="Not modified: the ETag sent is current."),
            **problem_responses(404),
        },
    )
    def get(self, request: Request, job_id: int) -> Response:
        job = selectors.job_get(job_id=job_id)
        etag = job_etag(job_id=job.pk, updated_at=job.updated_at)
        if_none_match = request.headers.get("If-None-Match")
        if if_none_match and if_none_match_hit(if_none_match, etag):
            return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
        return Response(JobOutputSerializer(job).data, headers={"ETag": etag})


class JobStatusListApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_statuses_list",
        summary="A job's status history",
        description=(
            "A page of the job's status events, newest first; 404 when the job does not exist."
        ),
        parameters=[PageParamsSerializer],
        responses={200: JobStatusPageSerializer, **problem_responses(400, 404)},
    )
    def get(self, request: Request, job_id: int) -> Response:
        page_params = PageParamsSerializer(data=query_params_data(request.query_params))
        page_params.is_valid(raise_exception=True)
        events = selectors.job_status_list(job_id=job_id)
        paginator = ValidatedLimitOffsetPagination()
        page = paginator.paginate(events, request, **page_params.validated_data)
        return paginator.get_paginated_response(JobStatusOutputSerializer(page, many=True).data)


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
