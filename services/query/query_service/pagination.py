"""The two page modes of the query service, both in DRF's page shape (`count`, `next`,
`previous`, `results`, plus `count_exact`), and the one function that writes a page.

- Offsets (the default): DRF's LimitOffsetPagination, fed with the limit and offset the
  filter serializer validated (DRF's own parsing falls back to the default on
  `limit=abc`, where ours answers 400). Offsets stop at MAX_OFFSET: deeper, PostgreSQL
  would read and drop every skipped row.
- Cursors (`pagination=cursor`, then the `next`/`previous` links): keyset pages on an
  immutable, unique order (a timestamp that never changes, then id), so page 50,000 costs
  what page 1 costs. The cursor is opaque to clients (base64url JSON). Why this is not
  DRF's CursorPagination: docs/decisions.md, "Keyset pages".
"""

import base64
import binascii
import json
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from django.http import HttpResponse
from rest_framework.exceptions import ValidationError
from rest_framework.pagination import BasePagination, LimitOffsetPagination
from rest_framework.request import Request
from rest_framework.utils.urls import remove_query_param, replace_query_param

from query_service.selectors import PageRows
from query_service.statements import PageWindow

MAX_OFFSET = 10_000
_INVALID_CURSOR = "Invalid cursor: use the next/previous links."


class Page(Protocol):
    """What a selector's page gives: its rows and its count (JobPage, JobStatusPage)."""

    @property
    def rows(self) -> PageRows: ...
    @property
    def count(self) -> int: ...
    @property
    def count_exact(self) -> bool: ...


def page_document(page: Page, *, next_link: str | None, previous_link: str | None) -> bytes:
    """A page as the API sends it: DRF's page shape plus `count_exact`, around the rows
    PostgreSQL already wrote as a JSON array. The array goes in as it is, as the last
    member; parsing it to write it again cost more than reading it."""
    head = json.dumps(
        {
            "count": page.count,
            "count_exact": page.count_exact,
            "next": next_link,
            "previous": previous_link,
        },
        separators=(",", ":"),
    )
    return b"".join((head[:-1].encode(), b',"results":', page.rows.json.encode(), b"}"))


class _JsonPages(BasePagination):
    """Answers a page with its document (the DRF hook get_paginated_response), its links
    from the rows read: `next` when one more row than the page was found."""

    if TYPE_CHECKING:  # set by each page mode
        request: Request
        limit: int
        # defined by each page mode; stubs here would shadow DRF's own

        def get_next_link(self) -> str | None: ...
        def get_previous_link(self) -> str | None: ...

    # An HttpResponse, not DRF's Response: the document is already JSON, nothing to render.
    def get_paginated_response(self, data: Page) -> HttpResponse:  # type: ignore[override]
        self.rows = data.rows
        self.has_next = len(data.rows.ids) > self.limit
        document = page_document(
            data, next_link=self.get_next_link(), previous_link=self.get_previous_link()
        )
        return HttpResponse(document, content_type="application/json")


class OffsetPages(_JsonPages, LimitOffsetPagination):
    """Offset pages, DRF's links. Whether a next page exists is read, not computed from
    `count`, which a broad search only bounds."""

    request: Request
    limit: int
    offset: int

    def __init__(self, request: Request, *, limit: int, offset: int) -> None:
        self.request = request
        self.limit = limit
        self.offset = offset

    def window(self) -> PageWindow:
        return PageWindow(limit=self.limit, offset=self.offset)

    def get_next_link(self) -> str | None:
        if not self.has_next:
            return None
        url = self.request.build_absolute_uri()
        url = replace_query_param(url, self.limit_query_param, self.limit)
        return replace_query_param(url, self.offset_query_param, self.offset + self.limit)


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


class KeysetPages(_JsonPages):
    """Cursor pages over `(field, id)` of an order whose `field` never changes after insert.

    The cursor holds the sort key as the page's JSON shows it (an RFC 3339 timestamp or an
    id) and the id of the row a page starts beyond. Rows are read in scan order: a
    backwards page shows them reversed, so its last row shown is the first read.
    """

    cursor_query_param = "cursor"

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

    @property
    def _backwards(self) -> bool:
        return self.position is not None and self.position.backwards

    def get_next_link(self) -> str | None:
        shown = min(len(self.rows.ids), self.limit)
        if self._backwards:
            return self._link(0, backwards=False) if shown else None
        return self._link(shown - 1, backwards=False) if self.has_next else None

    def get_previous_link(self) -> str | None:
        shown = min(len(self.rows.ids), self.limit)
        if self._backwards:
            return self._link(shown - 1, backwards=True) if self.has_next else None
        return self._link(0, backwards=True) if shown and self.position is not None else None

    def _link(self, index: int, *, backwards: bool) -> str:
        token = Cursor(self.ordering, self.rows.keys[index], self.rows.ids[index], backwards)
        url = self.request.build_absolute_uri()
        url = remove_query_param(remove_query_param(url, "offset"), "pagination")
        return replace_query_param(url, self.cursor_query_param, token.encode())
