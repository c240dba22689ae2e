from typing import Any

from rest_framework import exceptions, serializers
from rest_framework.request import Request
from rest_framework.views import APIView

from shared.api.problems import ContentCodingUnsupported
from shared.api.serializers import UNKNOWN_QUERY_PARAMETER


class JsonApiView(APIView):
    """Base of every API view of both services: what a request must be before a view reads it.

    - A body sent without a Content-Type is a 415: DRF would treat it as empty, turning a
      client's mistake into a confusing "field required".
    - A body with a content coding (`Content-Encoding: gzip`) is a 415: bodies here are a
      few hundred bytes, and decoding them would be a decompression bomb to bound.
    - A body on GET, HEAD or DELETE is a 400: none of them takes one, and a DELETE that
      went through whatever its body said would not do what a client meant.
    - A query parameter is a 400 on every view that takes none (`takes_query_parameters`),
      as unknown parameters are on the views that take some: `?format=xml` or a typo
      must not pass silently on one path and be refused on another.
    """

    takes_query_parameters = False

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        has_body = int(request.META.get("CONTENT_LENGTH") or 0) > 0 or (
            "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()
        )
        if has_body and request.method in ("GET", "HEAD", "DELETE"):
            raise exceptions.ParseError("This operation takes no request body.")
        if has_body and not request.content_type:
            raise exceptions.UnsupportedMediaType(
                "", detail="A request body needs Content-Type: application/json."
            )
        coding = request.META.get("HTTP_CONTENT_ENCODING", "").strip().lower()
        if has_body and coding not in ("", "identity"):
            raise ContentCodingUnsupported
        if not self.takes_query_parameters and request.query_params:
            raise serializers.ValidationError(
                {name: [UNKNOWN_QUERY_PARAMETER] for name in request.query_params}
            )
