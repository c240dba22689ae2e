from collections.abc import Sequence
from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response


class ValidatedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pages, fed with parameters a filter serializer already validated.

    DRF's own parsing falls back to the default on `limit=abc`; ours must answer 400, so
    the view validates first and hands the values over through `paginate`.
    """

    def paginate(
        self, queryset: QuerySet, request: Request, *, limit: int, offset: int
    ) -> Sequence[Any]:
        self._validated = {"limit": limit, "offset": offset}
        return self.paginate_queryset(queryset, request) or []

    def get_limit(self, request: Request) -> int:
        return self._validated["limit"]

    def get_offset(self, request: Request) -> int:
        return self._validated["offset"]

    def get_paginated_response(self, data: Any) -> Response:
        return Response(
            {
                "count": self.count,
                "next": self.get_next_link(),
                "previous": self.get_previous_link(),
                "results": data,
            }
        )
