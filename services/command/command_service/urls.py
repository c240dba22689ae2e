from django.urls import path

from command_service.views import JobCreateApi, JobUpdateDeleteApi
from shared.infrastructure.health import ReadinessApi

urlpatterns = [
    path("readyz", ReadinessApi.as_view(), name="readiness"),
    path("api/jobs/", JobCreateApi.as_view(), name="job-create"),
    path("api/jobs/<int:job_id>/", JobUpdateDeleteApi.as_view(), name="job-update-delete"),
]

handler400 = "shared.api.problems.handler400"
handler403 = "shared.api.problems.handler403"
handler404 = "shared.api.problems.handler404"
handler500 = "shared.api.problems.handler500"
