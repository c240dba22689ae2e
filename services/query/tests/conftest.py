from datetime import UTC, datetime, timedelta

import django.test.client
import pytest
from rest_framework.test import APIClient

from query_service import selectors
from shared.domain.enums import JobStatusType
from shared.domain.models import Job, JobStatus
from shared.infrastructure.wsgi import ApiRequest

BASE_TIME = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def _no_kept_buckets():
    """Each test starts with no closed stats buckets kept: its data is rolled back after
    it, so the next test's past-changes version can repeat a number with other data."""
    selectors._closed.forget()


@pytest.fixture
def api(monkeypatch) -> APIClient:
    # The request class the services' WSGI handler builds (shared/infrastructure/wsgi.py),
    # not Django's test default: links and ETags name the public address through it.
    monkeypatch.setattr(django.test.client, "WSGIRequest", ApiRequest)
    return APIClient()


@pytest.fixture
def make_job():
    """Arrange jobs directly in the schema: the query service itself never writes.

    `statuses` after the first PENDING are appended one second apart, `created` shifts the
    job's creation time from BASE_TIME by that many seconds.
    """

    def make(name: str, *statuses: str, created: int = 0) -> Job:
        created_at = BASE_TIME + timedelta(seconds=created)
        history = [JobStatusType.PENDING, *statuses]
        last = created_at + timedelta(seconds=len(history) - 1)
        job = Job.objects.create(
            name=name,
            created_at=created_at,
            updated_at=last,
            current_status_type=history[-1],
            current_status_timestamp=last,
        )
        JobStatus.objects.bulk_create(
            JobStatus(job=job, status_type=status, timestamp=created_at + timedelta(seconds=i))
            for i, status in enumerate(history)
        )
        return job

    return make
