from django.db import connection
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView


class ReadinessApi(APIView):
    """200 when this service can reach its database; 503 problem+json otherwise.

    Used by the launcher and compose healthchecks; the gateway does not expose it.
    """

    @extend_schema(exclude=True)
    def get(self, request: Request) -> Response:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")  # a failure is a 503 through the shared handler
        return Response({"status": "ready"})
