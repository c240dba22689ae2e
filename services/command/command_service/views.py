from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from command_service import services
from command_service.serializers import JobCreateInputSerializer, JobUpdateInputSerializer
from shared.openapi import problem_responses
from shared.serializers import JobOutputSerializer
from shared.views import JsonApiView


class JobCreateApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_create",
        summary="Create a job",
        description="Creates the job with its first status event, PENDING, in one transaction.",
        request=JobCreateInputSerializer,
        parameters=[
            OpenApiParameter(
                "Location",
                str,
                OpenApiParameter.HEADER,
                response=[201],
                description="Path of the new job, e.g. /api/jobs/42/.",
            )
        ],
        responses={
            201: OpenApiResponse(JobOutputSerializer, description="The new job."),
            **problem_responses(400, 413, 415),
        },
    )
    def post(self, request: Request) -> Response:
        serializer = JobCreateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.job_create(**serializer.validated_data)
        return Response(
            JobOutputSerializer(job).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": f"/api/jobs/{job.pk}/"},
        )


class JobUpdateDeleteApi(JsonApiView):
    @extend_schema(
        operation_id="jobs_status_append",
        summary="Append a status to a job",
        description=(
            "Appends a status event (server-assigned timestamp, strictly after the job's "
            "previous one) and moves the job's current status to it; may also rename the job."
        ),
        request=JobUpdateInputSerializer,
        responses={200: JobOutputSerializer, **problem_responses(400, 404, 413, 415)},
    )
    def patch(self, request: Request, job_id: int) -> Response:
        serializer = JobUpdateInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        job = services.job_status_append(job_id=job_id, **serializer.validated_data)
        return Response(JobOutputSerializer(job).data)

    @extend_schema(
        operation_id="jobs_delete",
        summary="Delete a job",
        description="Deletes the job and all its status events.",
        request=None,
        responses={
            204: OpenApiResponse(description="Deleted, events too."),
            **problem_responses(404),
        },
    )
    def delete(self, request: Request, job_id: int) -> Response:
        services.job_delete(job_id=job_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
