import hashlib
import json
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularSwaggerSplitView
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from query_service import routing, selectors
from query_service.pagination import MAX_OFFSET, KeysetPages, OffsetPages
from query_service.serializers import (
    STATUS_LIST_SCHEMA,
    JobListFilterSerializer,
    JobPageSerializer,
    JobStatsSerializer,
    JobStatusPageSerializer,
    JobSummarySerializer,
    PageParamsSerializer,
    StatsParamsSerializer,
    bucket_range,
    validated_query_params,
)
from query_service.statements import TIME_BOUNDS
from shared.api import consistency
from shared.api.etags import if_none_match_hit, job_version_etag
from shared.api.openapi import problem_responses
from shared.api.problems import DatabaseUnavailable
from shared.api.serializers import JobOutputSerializer
from shared.api.views import JsonApiView
from shared.infrastructure.health import ReadinessApi

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
# Repeats of `status` are joined with commas (query_params_data): an exploded array of
# comma-separated lists describes both forms. It replaces the filter serializer's string.
_STATUS = OpenApiParameter(
    "status",
    {"type": "array", "items": STATUS_LIST_SCHEMA},
    OpenApiParameter.QUERY,
    style="form",
    explode=True,
    description=(
        "Current status, one or more: comma-separated (`status=PENDING,RUNNING`), "
        "repeated (`status=PENDING&status=RUNNING`), or both."
    ),
)
# Seconds an answer read from a standby may be behind the primary, at most.
STALENESS_HEADER = "Data-Staleness"
# Said while the primary is away: reads go on from the standby, writes are refused.
MODE_HEADER = "Service-Mode"
_NOT_MODIFIED = OpenApiResponse(description="Not modified: the ETag sent is current.")


class ReadApiView(JsonApiView):
    """A view of reads. A Consistency-Token is checked before anything is read (one this
    API did not issue is a 400), then routing.py decides which database answers: the
    standby, once it has replayed past the token, or the primary. An answer from a standby
    says how far behind the primary it may be (STALENESS_HEADER), and whether the primary
    is away (MODE_HEADER)."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        routing.forget_route()  # a thread's last request chose for itself, not for this one
        super().initial(request, *args, **kwargs)
        token = request.headers.get(consistency.HEADER)
        position = None if token is None else consistency.wal_position(token)
        routing.choose(position)

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        route = routing.current()
        # Where the answer really came from: a standby that failed mid-read left it to
        # the primary.
        request._request.log_fields = {  # type: ignore[attr-defined]
            "read_from": "replica" if route.alias == routing.REPLICA else "primary",
            "consistency": route.token,
        }
        if route.health is not None and response.status_code < 400:
            staleness = route.health.staleness()  # now, as the answer leaves
            if staleness is not None:
                response[STALENESS_HEADER] = f"{staleness:.3f}"
            if route.primary_away:
                response[MODE_HEADER] = "read-only"
        return super().finalize_response(request, response, *args, **kwargs)


def _not_modified(request: Request, etag: Callable[[], str]) -> Response | None:
    """A 304 when the client's If-None-Match names the current `etag`, checked before any
    page is read; the ETag is only computed (a query) when the header is there."""
    header = request.headers.get("If-None-Match")
    if header and if_none_match_hit(header, current := etag()):
        return Response(status=status.HTTP_304_NOT_MODIFIED, headers={"ETag": current})
    return None


def _page_etag(request: Request, version: str) -> str:
    """A data version plus what was asked for (the public URL: links are absolute)."""
    asked = request.build_absolute_uri().encode()
    return f'"{version}.{hashlib.sha256(asked).hexdigest()[:16]}"'


def _history_etag(request: Request, job_id: int, version: int) -> str:
    """A history page's ETag: its job's version plus what was asked for."""
    return _page_etag(request, job_version_etag(job_id, version).strip('"'))


def _json(body: str | bytes, etag: str) -> HttpResponse:
    """JSON PostgreSQL wrote, sent as it is (the DRF serializers describe its shape)."""
    return HttpResponse(body, content_type="application/json", headers={"ETag": etag})


def _pages(request: Request, params: dict[str, Any], *, ordering: str) -> OffsetPages | KeysetPages:
    """The page mode the parameters ask for: cursor (keyset) or offsets."""
    if params["pagination"] == "cursor":
        return KeysetPages(
            request, ordering=ordering, limit=params["limit"], cursor=params.get("cursor")
        )
    return OffsetPages(request, limit=params["limit"], offset=params["offset"])


class JobListApi(ReadApiView):
    takes_query_parameters = True

    @extend_schema(
        operation_id="jobs_list",
        summary="List jobs",
        description=(
            "A page of jobs, newest first by default, filtered by current status and by a "
            f"case-insensitive substring of the name. Offsets (default) go to {MAX_OFFSET}; "
            "`pagination=cursor` pages at any depth by following next/previous. Time windows "
            "on the creation and the current status time (`*_after` inclusive, `*_before` "
            "exclusive, RFC 3339) combine with every filter, order and page mode. Unknown or "
            "malformed parameters, and a window whose bounds are reversed, are a 400."
        ),
        parameters=[JobListFilterSerializer, _STATUS, _IF_NONE_MATCH, _ETAG],
        responses={200: JobPageSerializer, 304: _NOT_MODIFIED, **problem_responses(400)},
    )
    def get(self, request: Request) -> HttpResponse:
        params = validated_query_params(JobListFilterSerializer, request)
        # A revalidation reads the data version first: a 304 costs no page.
        cached = _not_modified(
            request, lambda: _page_etag(request, str(selectors.job_counts().version))
        )
        if cached is not None:
            return cached
        pages = _pages(request, params, ordering=params["ordering"])
        page = selectors.job_page(
            window=pages.window(),
            statuses=params.get("status"),
            search=params.get("search") or None,
            ordering=params["ordering"],
            times={bound: params[bound] for bound in TIME_BOUNDS if bound in params},
        )
        response = pages.get_paginated_response(page)
        response["ETag"] = _page_etag(request, str(page.version))
        return response


class JobSummaryApi(ReadApiView):
    @extend_schema(
        operation_id="jobs_summary",
        summary="Count jobs per status",
        description="Exact counts, total and per current status, at any table size.",
        parameters=[_IF_NONE_MATCH, _ETAG],
        responses={200: JobSummarySerializer, 304: _NOT_MODIFIED, **problem_responses(400)},
    )
    def get(self, request: Request) -> HttpResponse:
        counts = selectors.job_counts()
        etag = f'"summary.{counts.version}"'
        if (cached := _not_modified(request, lambda: etag)) is not None:
            return cached
        # Plain integers: json.dumps writes what JobSummarySerializer describes.
        body = {"total": counts.total, "by_status": counts.by_status}
        return _json(json.dumps(body, separators=(",", ":")), etag)


class JobStatsApi(ReadApiView):
    takes_query_parameters = True

    @extend_schema(
        operation_id="jobs_stats",
        summary="Status analytics per time bucket",
        description=(
            "Per minute, hour or day (UTC): how many events entered each status, how many "
            "finished (COMPLETED or FAILED), the failure rate, and the run time of the "
            "finishes (first RUNNING of the job to the finishing event: p50, p95, max, "
            "interpolated from a logarithmic histogram as Prometheus' histogram_quantile "
            "does, within `run_time_relative_error`). Every bucket of the range is listed, "
            "empty ones too, and `total` sums the range. Read from rollups kept in the "
            "transaction of every write: the cost grows with the buckets, not the jobs. At "
            "most 1,000 buckets; a reversed range is a 400."
        ),
        parameters=[StatsParamsSerializer, _IF_NONE_MATCH, _ETAG],
        responses={200: JobStatsSerializer, 304: _NOT_MODIFIED, **problem_responses(400)},
    )
    def get(self, request: Request) -> HttpResponse:
        params = validated_query_params(StatsParamsSerializer, request)
        buckets = bucket_range(params, timezone.now())

        def etag(version: int) -> str:
            # The data version and the buckets resolved (a default `until` moves with the
            # clock, the URL does not).
            asked = f"{buckets.size}.{buckets.first.isoformat()}.{buckets.count}".encode()
            return f'"stats.{version}.{hashlib.sha256(asked).hexdigest()[:16]}"'

        cached = _not_modified(request, lambda: etag(selectors.job_counts().version))
        if cached is not None:
            return cached
        stats = selectors.job_stats(buckets)
        return _json(stats.text(), etag(stats.version))


class JobDetailApi(ReadApiView):
    @extend_schema(
        operation_id="jobs_retrieve",
        summary="Get one job",
        description=(
            "The job with its current status, and its ETag. With If-None-Match naming that "
            "ETag, a 304 without a body."
        ),
        parameters=[_IF_NONE_MATCH, _ETAG],
        responses={200: JobOutputSerializer, 304: _NOT_MODIFIED, **problem_responses(400, 404)},
    )
    def get(self, request: Request, job_id: int) -> HttpResponse:
        body, version = selectors.job_detail(job_id=job_id)
        etag = job_version_etag(job_id, version)
        if (cached := _not_modified(request, lambda: etag)) is not None:
            return cached
        return _json(body, etag)


class JobStatusListApi(ReadApiView):
    takes_query_parameters = True

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
    def get(self, request: Request, job_id: int) -> HttpResponse:
        params = validated_query_params(PageParamsSerializer, request)
        # As for the list: a revalidation reads the job's version first.
        cached = _not_modified(
            request, lambda: _history_etag(request, job_id, selectors.job_version(job_id=job_id))
        )
        if cached is not None:
            return cached
        pages = _pages(request, params, ordering=selectors.HISTORY_ORDERING)
        page = selectors.job_status_page(job_id=job_id, window=pages.window())
        response = pages.get_paginated_response(page)
        response["ETag"] = _history_etag(request, job_id, page.job_version)
        return response


class QueryReadinessApi(ReadinessApi):
    """Ready when a database this instance reads can be reached; with a standby, the body
    says how far behind it is and which database reads go to."""

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        if not routing.has_replica():
            return super().get(request)
        health = routing.monitor.health()
        if not (health.reachable or health.primary_reachable):
            raise DatabaseUnavailable
        return Response({"status": "ready", "replica": health.summary()})


@lru_cache(maxsize=1)
def _openapi_description() -> bytes:
    return settings.OPENAPI_DESCRIPTION_PATH.read_bytes()


class _OneRepresentation:
    """A view with one representation serves it whatever the Accept header says: DRF's
    406 there answered `Accept: application/json` on the docs page with a plain-text
    body, and the description's own type with a 406."""

    def perform_content_negotiation(self, request: Request, force: bool = False) -> Any:
        return super().perform_content_negotiation(request, force=True)  # type: ignore[misc]


class OpenApiDocsPage(_OneRepresentation, SpectacularSwaggerSplitView):
    """Swagger UI over the description, from drf-spectacular-sidecar (no CDN)."""


class OpenApiDescriptionApi(_OneRepresentation, APIView):
    """Serves the committed OpenAPI description of the whole API (both services' halves)."""

    @extend_schema(exclude=True)
    def get(self, request: Request) -> HttpResponse:
        return HttpResponse(
            _openapi_description(), content_type="application/vnd.oai.openapi; charset=utf-8"
        )
