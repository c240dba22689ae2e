from typing import Any

from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.views import APIView


class JsonApiView(APIView):
    """Base of every API view of both services.

    DRF treats a body sent without a Content-Type as empty, which would turn a client's
    mistake into a confusing "field required"; here it is a 415, as for any other type.
    """

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        has_body = int(request.META.get("CONTENT_LENGTH") or 0) > 0 or (
            "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        )
        if has_body and not request.content_type:
            raise exceptions.UnsupportedMediaType(
                "", detail="A request body needs Content-Type: application/json."
            )
