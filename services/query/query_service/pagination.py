"""The two page modes of the query service, both in DRF's page shape
(`count`, `next`, `previous`, `results`, plus `count_exact`).

- Offsets (the default): fed with parameters the filter serializer validated, since DRF's
  own parsing falls back to the default on `limit=abc` where ours must answer 400. Offsets
  stop at MAX_OFFSET: deeper, PostgreSQL would read and drop every skipped row. Links as
  DRF's LimitOffsetPagination makes them.
- Cursors (`pagination=cursor`, then the `next`/`previous` links): keyset pages on an
  immutable, unique order (a timestamp that never changes, then id), so page 50,000 costs
  what page 1 costs. The cursor is opaque to clients (base64url JSON).
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from query_service.selectors import JsonRows, PageWindow

MAX_OFFSET = 10_000
_INVALID_CURSOR = "Invalid cursor: use the next/previous links."


def public_url(request: Request) -> str:
    """The URL of this request at the gateway's public address (PUBLIC_BASE_URL), whatever
    its Host or X-Forwarded-* headers say."""
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def page_body(
    *,
    rows: JsonRows,
    count: int,
    count_exact: bool,
    next_link: str | None,
    previous_link: str | None,
) -> bytes:
    """The page document, in DRF's page shape, around the rows PostgreSQL already wrote as
    JSON (they are not parsed and written again)."""
    head = json.dumps(
        {"count": count, "count_exact": count_exact, "next": next_link, "previous": previous_link},
        separators=(",", ":"),
    )
    return f'{head[:-1]},"results":{rows.json}}}'.encode()


class OffsetPages:
    """Offset pages (the default), with DRF's `next`/`previous` links. Whether a next page
    exists is read, not computed from `count`, which a broad search only bounds."""

    def __init__(self, request: Request, *, limit: int, offset: int) -> None:
        self.request = request
        self.limit = limit
        self.offset = offset

    def window(self) -> PageWindow:
        return PageWindow(limit=self.limit, offset=self.offset)

    def links(self, rows: JsonRows) -> tuple[str | None, str | None]:
        has_next = len(rows.ids) > self.limit
        if not has_next and self.offset == 0:
            # The only page (most histories): no link, so no URL to build (17 us).
            return None, None
        url = replace_query_param(public_url(self.request), "limit", self.limit)
        next_link = None
        if has_next:
            next_link = replace_query_param(url, "offset", self.offset + self.limit)
        previous_link = None
        if self.offset > 0:
            previous_offset = self.offset - self.limit
            previous_link = (
                remove_query_param(url, "offset")
                if previous_offset <= 0
                else replace_query_param(url, "offset", previous_offset)
            )
        return next_link, previous_link


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


class KeysetPages:
    """Cursor pages over `(field, id)` of an order whose `field` never changes after insert.

    The cursor holds the sort key as the page's JSON shows it (an RFC 3339 timestamp or an
    id) and the id of the row a page starts beyond.
    """

    def __init__(self, request: Request, *, ordering: str, limit: int, cursor: str | None) -> None:
        self.request = request
        self.ordering = ordering
        self.field = ordering.lstrip("-")
        self.limit = limit
        self.position = Cursor.decode(cursor, ordering=ordering) if cursor else None

    def _parse_key(self, key: str) -> Any:
        try:
            return int(key) if self.field == "id" else datetime.fromisoformat(key)
        except ValueError:
            raise ValidationError({"cursor": [_INVALID_CURSOR]}) from None

    def window(self) -> PageWindow:
        position = self.position
        if position is None:
            return PageWindow(limit=self.limit)
        return PageWindow(
            limit=self.limit,
            after=(self._parse_key(position.key), position.id),
            backwards=position.backwards,
        )

    def links(self, rows: JsonRows) -> tuple[str | None, str | None]:
        """Rows are read in scan order; a backwards page shows them reversed, so its last
        row shown is the first read."""
        shown = min(len(rows.ids), self.limit)
        has_more = len(rows.ids) > self.limit
        if not shown:
            return None, None
        if self.position is not None and self.position.backwards:
            next_index: int | None = 0
            previous_index = shown - 1 if has_more else None
        else:
            next_index = shown - 1 if has_more else None
            previous_index = 0 if self.position is not None else None
        return (
            self._link(rows, next_index, backwards=False),
            self._link(rows, previous_index, backwards=True),
        )

    def _link(self, rows: JsonRows, index: int | None, *, backwards: bool) -> str | None:
        if index is None:
            return None
        token = Cursor(self.ordering, rows.keys[index], rows.ids[index], backwards).encode()
        url = public_url(self.request)
        url = remove_query_param(remove_query_param(url, "offset"), "pagination")
        return replace_query_param(url, "cursor", token)
