"""The one function that writes a page's document, for every kind of page."""

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest
from django.db import connection
from psycopg import sql

from query_service.pagination import page_document
from query_service.selectors import JobPage, JobStatusPage, PageRows
from query_service.statements import api_timestamp
from shared.api.timestamps import STRFTIME_TIMESTAMP_FORMAT

ROWS = PageRows(
    json='[{"id":2,"name":"é \\"q\\""},{"id":1,"name":"a"}]', keys=["2", "1"], ids=[2, 1]
)


@pytest.mark.parametrize(
    ("page", "count", "exact"),
    [
        (JobPage(ROWS, count=2, count_exact=True, version=7), 2, True),
        (JobPage(ROWS, count=1000, count_exact=False, version=7), 1000, False),  # a search
        (JobStatusPage(ROWS, count=2, job_version=9), 2, True),
    ],
    ids=["list", "search", "history"],
)
@pytest.mark.parametrize("links", [(None, None), ("http://x/?offset=2", "http://x/?cursor=a")])
def test_a_page_document_is_drfs_page_shape_around_the_rows_as_written(page, count, exact, links):
    document = page_document(page, next_link=links[0], previous_link=links[1])
    assert json.loads(document) == {
        "count": count,
        "count_exact": exact,
        "next": links[0],
        "previous": links[1],
        "results": json.loads(ROWS.json),
    }
    assert document.endswith(b'"results":' + ROWS.json.encode() + b"}")


def test_an_empty_page_has_an_empty_array():
    page = JobStatusPage(PageRows("[]", [], []), count=0, job_version=1)
    assert json.loads(page_document(page, next_link=None, previous_link=None))["results"] == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "instant",
    [
        datetime(2026, 11, 30, 15, 19, 34, 123456, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),  # no microseconds: still six digits
        datetime(1999, 12, 31, 23, 59, 59, 1, tzinfo=timezone(timedelta(hours=-5))),
    ],
)
def test_postgresql_and_drf_write_a_timestamp_the_same_way(instant):
    with connection.cursor() as cursor:
        cursor.execute(sql.SQL("SELECT {}").format(api_timestamp(sql.Literal(instant))))
        (written,) = cursor.fetchone()
    assert written == instant.astimezone(UTC).strftime(STRFTIME_TIMESTAMP_FORMAT)
