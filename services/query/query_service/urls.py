from django.urls import path

from query_service.views import (
    JobDetailApi,
    JobListApi,
    JobStatsApi,
    JobStatusListApi,
    JobSummaryApi,
    OpenApiDescriptionApi,
    OpenApiDocsPage,
    QueryReadinessApi,
)

urlpatterns = [
    path("readyz", QueryReadinessApi.as_view(), name="readiness"),
    path("api/jobs/", JobListApi.as_view(), name="job-list"),
    path("api/jobs/summary/", JobSummaryApi.as_view(), name="job-summary"),
    path("api/jobs/stats/", JobStatsApi.as_view(), name="job-stats"),
    path("api/jobs/<int:job_id>/", JobDetailApi.as_view(), name="job-detail"),
    path("api/jobs/<int:job_id>/statuses/", JobStatusListApi.as_view(), name="job-status-list"),
    path("api/schema/", OpenApiDescriptionApi.as_view(), name="openapi-description"),
    path("api/docs/", OpenApiDocsPage.as_view(url="/api/schema/"), name="api-docs"),
]

handler400 = "shared.api.problems.handler400"
handler403 = "shared.api.problems.handler403"
handler404 = "shared.api.problems.handler404"
handler500 = "shared.api.problems.handler500"
