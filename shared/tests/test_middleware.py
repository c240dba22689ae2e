"""What the shared middleware does to every answer of both services."""

import pytest
from django.http import HttpResponse
from django.middleware.common import CommonMiddleware
from django.test import RequestFactory

from shared.middleware import HeadWithoutBodyMiddleware


def job_view(request):
    return HttpResponse(b'{"id": 42}', content_type="application/json", status=404)


@pytest.mark.parametrize("method", ["get", "head"])
def test_a_head_answer_has_gets_headers_and_no_body(method):
    """gunicorn sends any body it is given, and a body after a HEAD answer broke the
    gateway's next request on that upstream connection."""
    respond = HeadWithoutBodyMiddleware(CommonMiddleware(job_view))
    response = respond(getattr(RequestFactory(), method)("/api/jobs/42/"))
    assert response.status_code == 404
    assert response["Content-Length"] == "10"
    assert response.content == (b'{"id": 42}' if method == "get" else b"")
