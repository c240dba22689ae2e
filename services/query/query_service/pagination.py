"""The two page modes of the query service, both in DRF's page shape
(`count`, `next`, `previous`, `results`, plus `count_exact`).

- Offsets (the default): fed with parameters the filter serializer validated, since DRF's
  own parsing falls back to the default on `limit=abc` where ours must answer 400. Offsets
  stop at MAX_OFFSET: deeper, PostgreSQL would read and drop every skipped row.
- Cursors (`pagination=cursor`, then the `next`/`previous` links): keyset pages on an
  immutable, unique order (a timestamp that never changes, then id), so page 50,000 costs
  what page 1 costs. The cursor is opaque to clients (base64url JSON).
"""

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

MAX_OFFSET = 10_000
_INVALID_CURSOR = "Invalid cursor: use the next/previous links."


def _page_response(count: int, count_exact: bool, next_link, previous_link, data) -> Response:  # type: ignore[no-untyped-def]
    return Response(
        {
            "count": count,
            "count_exact": count_exact,
            "next": next_link,
            "previous": previous_link,
            "results": data,
        }
    )


class ValidatedLimitOffsetPagination(LimitOffsetPagination):
    """DRF's limit/offset pages with validated parameters and a count given by the caller
    (the O(1) counters), through DRF's own hooks."""

    def paginate(
        self,
        queryset: QuerySet,
        request: Request,
        *,
        limit: int,
        offset: int,
        count: int | None = None,
        count_exact: bool = True,
    ) -> Sequence[Any]:
        self._validated = {"limit": limit, "offset": offset}
        self._given_count = count
        self.count_exact = count_exact
        return self.paginate_queryset(queryset, request) or []

    def get_limit(self, request: Request) -> int:
        return self._validated["limit"]

    def get_offset(self, request: Request) -> int:
        return self._validated["offset"]

    def get_count(self, queryset: QuerySet | Sequence[Any]) -> int:
        if self._given_count is not None:
            return self._given_count
        return super().get_count(queryset)

    def get_paginated_response(self, data: Any) -> Response:
        return _page_response(
            self.count or 0, self.count_exact, self.get_next_link(), self.get_previous_link(), data
        )


@dataclass(frozen=True)
class Cursor:
    """A position in an order: the row's sort key and id, and which way the page goes."""

    ordering: str
    key: str
    id: int
    backwards: bool

    def encode(self) -> str:
        raw = json.dumps([self.ordering, self.key, self.id, self.backwards], separators=(",", ":"))
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str, *, ordering: str) -> "Cursor":
        invalid = ValidationError({"cursor": [_INVALID_CURSOR]})
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
            found_ordering, key, row_id, backwards = json.loads(raw)
        except (binascii.Error, ValueError, TypeError):
            raise invalid from None
        if not (
            isinstance(found_ordering, str)
            and isinstance(key, str)
            and isinstance(row_id, int)
            and not isinstance(row_id, bool)
            and 0 <= row_id < 2**63
            and isinstance(backwards, bool)
        ):
            raise invalid
        if found_ordering != ordering:
            raise ValidationError(
                {"cursor": [f"This cursor pages ordering={found_ordering}, not {ordering}."]}
            )
        return cls(found_ordering, key, row_id, backwards)


class KeysetPagination:
    """Cursor pages over `(field, id)`, where `field` never changes after insert.

    `shape` turns the fetched rows into the API's rows; the cursor keys are read from
    those (an id, or an RFC 3339 timestamp).
    """

    def __init__(
        self,
        *,
        ordering: str,
        field: str,
        descending: bool,
        shape: Callable[[list[dict[str, Any]]], list[dict[str, Any]]],
    ) -> None:
        self.ordering = ordering
        self.field = field
        self.descending = descending
        self.shape = shape

    def _key_of(self, row: dict[str, Any]) -> str:
        return str(row[self.field])

    def _parse_key(self, key: str) -> Any:
        try:
            return int(key) if self.field == "id" else datetime.fromisoformat(key)
        except ValueError:
            raise ValidationError(
                {"cursor": ["Invalid cursor: use the next/previous links."]}
            ) from None

    def paginate(
        self, queryset: QuerySet, request: Request, *, limit: int, cursor: str | None
    ) -> list[dict[str, Any]]:
        """Rows of `queryset` (a .values() queryset, with `field` and `id`) for one page."""
        position = Cursor.decode(cursor, ordering=self.ordering) if cursor else None
        backwards = bool(position and position.backwards)
        scan_descending = self.descending != backwards
        if position is not None:
            comparison = "<" if scan_descending else ">"
            table = queryset.model._meta.db_table
            column = f'"{table}"."{self.field}"'
            queryset = queryset.extra(
                where=[f'({column}, "{table}"."id") {comparison} (%s, %s)'],
                params=[self._parse_key(position.key), position.id],
            )
        direction = "-" if scan_descending else ""
        rows = self.shape(
            list(queryset.order_by(f"{direction}{self.field}", f"{direction}id")[: limit + 1])
        )
        has_more = len(rows) > limit
        rows = rows[:limit]
        if backwards:
            rows.reverse()
        self.request = request
        self.next_row = rows[-1] if rows and (has_more if not backwards else True) else None
        self.previous_row = (
            rows[0] if rows and (position is not None if not backwards else has_more) else None
        )
        return rows

    def _link(self, row: dict[str, Any] | None, *, backwards: bool) -> str | None:
        if row is None:
            return None
        token = Cursor(self.ordering, self._key_of(row), row["id"], backwards).encode()
        url = self.request.build_absolute_uri()
        url = remove_query_param(remove_query_param(url, "offset"), "pagination")
        return replace_query_param(url, "cursor", token)

    def get_paginated_response(self, data: Any, *, count: int, count_exact: bool) -> Response:
        return _page_response(
            count,
            count_exact,
            self._link(self.next_row, backwards=False),
            self._link(self.previous_row, backwards=True),
            data,
        )
