"""Read logic of the query service. Read-only by construction: its database role can only SELECT."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import connection
from django.db.models import DateTimeField, Field, Model
from psycopg import sql

from shared.enums import JobStatusType
from shared.etags import job_version_sql
from shared.models import Job, JobCounterShard, JobStatus
from shared.problems import JobNotFound
from shared.serializers import JobOutputSerializer, JobStatusOutputSerializer


def _like_pattern(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


# A search that matches more rows than this is not counted to the end: the count says
# "at least this many" (`count_exact: false`; the cost, docs/decisions.md).
SEARCH_COUNT_LIMIT = 1_000

# How many jobs a search's page reads in the page's order, looking for its matches, before
# it gives up on that plan and sorts all the matches instead (see _search_rows).
SEARCH_WALK_ROWS = 5_000

# The orderings of the list: a column, then id in the same direction, so pages are stable
# when many jobs share a name or a timestamp.
JOB_ORDERINGS = tuple(
    f"{direction}{field}"
    for field in ("created_at", "name", "current_status_timestamp", "id")
    for direction in ("", "-")
)
DEFAULT_JOB_ORDERING = "-created_at"


@dataclass(frozen=True)
class PageWindow:
    """Which rows of an order a page reads: from an offset, or after a keyset position.

    `after` is (sort key, id) of the row the page starts beyond; `backwards` reads against
    the order (a "previous" page) and still gives the rows in the order's direction.
    """

    limit: int
    offset: int = 0
    after: tuple[Any, int] | None = None
    backwards: bool = False


@dataclass(frozen=True)
class JsonRows:
    """A page's rows as the JSON array the API sends, built by PostgreSQL.

    `keys` and `ids` are the sort key (as the JSON shows it) and id of every row read, in
    reading order: one more than the page holds when there are more rows beyond it. The
    counts read in the same statement (one snapshot, one round trip) come along: `counts`
    (the counters), `matches` (a search's, bounded), `total` (a history's), and `version`
    (a history's job's, for its ETag).
    """

    json: str
    keys: list[str]
    ids: list[int]
    counts: "JobCounts | None" = None
    matches: int | None = None
    total: int | None = None
    version: int | None = None


# Timestamps are formatted by PostgreSQL as the API shows them (RFC 3339, UTC, microseconds):
# loading them into Python datetimes and formatting them back cost more than the query.
def _rfc3339(column: str) -> str:
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')"""


def _json_columns(model: type[Model], fields: list[str], alias: str) -> str:
    """The select list of the API's shape of a row: its fields, in the documented order
    (the DRF output serializers'), under their API names."""
    columns = []
    for name in fields:
        field = model._meta.get_field(name)
        assert isinstance(field, Field)  # a concrete column, not a relation's reverse side
        column = f"{alias}.{field.column}"
        if isinstance(field, DateTimeField):
            column = _rfc3339(column)
        columns.append(f"{column} AS {name}")
    return ", ".join(columns)


_JOB_COLUMNS = _json_columns(Job, JobOutputSerializer.Meta.fields, "j")
_JOB_STATUS_COLUMNS = _json_columns(JobStatus, JobStatusOutputSerializer.Meta.fields, "e")
_VERSION = job_version_sql("j.updated_at")
# One job as the API's JSON, and its version; the version alone (a history's ETag).
JOB_DETAIL_SQL = (
    f"SELECT row_to_json(p)::text, {_VERSION} FROM {Job._meta.db_table} AS j, "
    f"LATERAL (SELECT {_JOB_COLUMNS}) AS p WHERE j.id = %s"
)
JOB_VERSION_SQL = f"SELECT {_VERSION} FROM {Job._meta.db_table} AS j WHERE j.id = %s"


@dataclass(frozen=True)
class _Extra:
    """A scalar subquery read beside a page, into the JsonRows field `name`."""

    name: str
    sql: str
    params: tuple[Any, ...] = ()
    convert: Callable[[Any], Any] | None = None


@dataclass(frozen=True)
class PageQuery:
    """The one statement of a page (see _page_sql) and what its extra columns are."""

    sql: str
    params: list[Any]
    extras: list[_Extra]


def _name_search(term: str) -> str:
    """`name ILIKE '%term%'`, the pattern quoted by psycopg for this connection: the SQL
    condition of a search, which no index gives in the page's order.

    A literal, not a parameter: the right plan depends on the term (a one-letter term
    must be read in order, the trigram index cannot serve it; a rare one must go through
    that index), and a prepared statement's generic plan cannot see a parameter (what
    that cost: docs/decisions.md, "term written in as a literal"). Each term is a
    statement of its own, prepared when it repeats (a dashboard polling its search). `%`
    is doubled for the placeholder syntax of the statement, which always has parameters
    (the page's limit).
    """
    connection.ensure_connection()
    literal = sql.Literal(_like_pattern(term)).as_string(connection.connection)
    return f"j.name ILIKE {literal.replace('%', '%%')}"


def _page_sql(
    *,
    source: str,
    columns: str,
    alias: str,
    where: list[str],
    where_params: list[Any],
    field: str,
    descending: bool,
    window: PageWindow,
    extras: list[_Extra],
    search: str | None = None,
) -> PageQuery:
    """One statement for one page: the rows read in order (one more than the page, to know
    whether more follow), the page's JSON array built from them in the order shown, the
    sort keys and ids of the rows read (for the cursors), then each extra. With a `search`
    condition, the rows come from _search_rows, which also counts its matches (`matches`)."""
    scan_descending = descending != window.backwards
    direction = "DESC" if scan_descending else "ASC"
    order = f"{alias}.{field} {direction}, {alias}.id {direction}"
    keyset: list[str] = []
    keyset_params: list[Any] = []
    if window.after is not None:
        comparison = "<" if scan_descending else ">"
        keyset.append(f"({alias}.{field}, {alias}.id) {comparison} (%s, %s)")
        keyset_params += list(window.after)
    prefix = ""
    prefix_params: list[Any] = []
    if search is None:
        rows = (
            f"SELECT {columns} FROM {source} "
            f"WHERE {' AND '.join([*where, *keyset]) or 'TRUE'} "
            f"ORDER BY {order} LIMIT %s OFFSET %s"
        )
        rows_params = [*where_params, *keyset_params, window.limit + 1, window.offset]
    else:
        prefix, prefix_params, rows, rows_params = _search_rows(
            source=source,
            columns=columns,
            alias=alias,
            field=field,
            order=order,
            where=where,
            where_params=where_params,
            keyset=keyset,
            keyset_params=keyset_params,
            search=search,
            window=window,
        )
        extras = [*extras, _Extra("matches", "SELECT count(*) FROM matches")]
    shown = "DESC" if window.backwards else "ASC"
    sql = (
        f"{prefix}SELECT '[' || coalesce(string_agg(row_to_json(q.p)::text, ',' "
        f"ORDER BY q.n {shown}) FILTER (WHERE q.n <= %s), '') || ']', "
        f"array_agg((q.p).{field}::text ORDER BY q.n), array_agg((q.p).id ORDER BY q.n)"
        + "".join(f", ({extra.sql})" for extra in extras)
        + f" FROM (SELECT p, row_number() OVER () AS n FROM ({rows}) AS p) AS q"
    )
    # In the order of the placeholders: the WITH, the select list, then the rows.
    extra_params = [param for extra in extras for param in extra.params]
    params = [*prefix_params, window.limit, *extra_params, *rows_params]
    return PageQuery(sql, params, extras)


def _search_rows(
    *,
    source: str,
    columns: str,
    alias: str,
    field: str,
    order: str,
    where: list[str],
    where_params: list[Any],
    keyset: list[str],
    keyset_params: list[Any],
    search: str,
    window: PageWindow,
) -> tuple[str, list[Any], str, list[Any]]:
    """The rows of a search's page, by whichever of three plans suits the term, chosen
    inside the statement (a WITH clause, its parameters, the rows, theirs).

    PostgreSQL's own choice fails when a term's matches cluster away from the start of the
    order (names that carry a date or a number do: they follow creation time): it reads
    the jobs in order expecting matches spread evenly, and at a million jobs read 900,000
    of them, 0.8 s, for a term with 3,752 matches. So:
    - `matches`, the search's first SEARCH_COUNT_LIMIT + 1 matches in any order (their
      count is the list's count), holds every match when there are no more: the page is
      then sorted from them (a rare term, through the trigram index);
    - otherwise the page reads at most SEARCH_WALK_ROWS jobs in its order (`walk`), which
      finds a common term's page within its first few hundred;
    - and when that was not enough, sorts all the matches (the trigram index again): a
      cost that grows with the matches, never with the jobs before them.
    Only the plan chosen runs: the others are behind one-time conditions.
    """
    reach = window.offset + window.limit + 1  # rows from the start of the window
    filters = [*where, *keyset]
    everything = " AND ".join([*where, search, *keyset])
    keys = f"{alias}.id" if field == "id" else f"{alias}.id, {alias}.{field}"
    # The two bounds are literals, not parameters, so that every plan is costed for them.
    prefix = (
        f"WITH matches AS MATERIALIZED (SELECT {keys} FROM {source} "
        f"WHERE {' AND '.join([*where, search])} "
        f"LIMIT {int(SEARCH_COUNT_LIMIT) + 1}), "
        f"walk AS MATERIALIZED (SELECT {alias}.* FROM (SELECT * FROM {source} "
        f"WHERE {' AND '.join(filters) or 'TRUE'} ORDER BY {order} "
        f"LIMIT {int(SEARCH_WALK_ROWS)}) AS {alias} "
        f"WHERE {search} ORDER BY {order} LIMIT %s) "
    )
    prefix_params = [*where_params, *where_params, *keyset_params, reach]
    few = f"(SELECT count(*) FROM matches) <= {int(SEARCH_COUNT_LIMIT)}"
    # `matches` and `walk` are read under the page's alias, so `order` and the keyset
    # condition apply to them as written.
    rows = (
        # A join with the page's ids (unique, so no `IN` and its de-duplication).
        f"(SELECT {columns} FROM (SELECT {alias}.id FROM matches AS {alias} "
        f"WHERE {' AND '.join(keyset) or 'TRUE'} ORDER BY {order} LIMIT %s OFFSET %s) "
        f"AS page JOIN {source} ON {alias}.id = page.id WHERE {few} ORDER BY {order}) "
        f"UNION ALL (SELECT {columns} FROM walk AS {alias} WHERE NOT {few} "
        f"AND (SELECT count(*) FROM walk) = %s ORDER BY {order} OFFSET %s) "
        # OFFSET 0 keeps PostgreSQL from reading the matches in order again: it finds them
        # all (trigram index), keeps the page's in a bounded sort, and only then formats
        # them (formatting every match first cost more than finding them).
        f"UNION ALL (SELECT {columns} FROM (SELECT * FROM (SELECT * FROM {source} "
        f"WHERE {everything} OFFSET 0) AS {alias} WHERE NOT {few} "
        f"AND (SELECT count(*) FROM walk) < %s ORDER BY {order} LIMIT %s OFFSET %s) "
        f"AS {alias} ORDER BY {order})"
    )
    rows_params = [
        *keyset_params,
        window.limit + 1,
        window.offset,
        reach,
        window.offset,
        *where_params,
        *keyset_params,
        reach,
        window.limit + 1,
        window.offset,
    ]
    return prefix, prefix_params, rows, rows_params


def _fetch_rows(query: PageQuery) -> JsonRows:
    with connection.cursor() as cursor:
        cursor.execute(query.sql, query.params)
        rows_json, keys, ids, *values = cursor.fetchone()
    found = {
        extra.name: extra.convert(value) if extra.convert else value
        for extra, value in zip(query.extras, values, strict=True)
    }
    return JsonRows(json=rows_json, keys=keys or [], ids=ids or [], **found)


def job_page(
    *,
    window: PageWindow,
    statuses: list[str] | None = None,
    search: str | None = None,
    ordering: str = DEFAULT_JOB_ORDERING,
    with_counts: bool = False,
) -> JsonRows:
    """A page of jobs filtered by current status (any of `statuses`) and by a
    case-insensitive substring of the name, in the given order, as the API's JSON; with
    `with_counts`, the counters too; with a search, its matches counted up to
    SEARCH_COUNT_LIMIT + 1.

    Plain SQL shaped for the screen (the read side may bypass the model): the ORM's query
    building and Python's per-row work cost ten times what PostgreSQL spends on the page.
    The search is `name ILIKE '%term%'`, which the trigram index on name serves.
    """
    return _fetch_rows(
        job_page_query(
            window=window,
            statuses=statuses,
            search=search,
            ordering=ordering,
            with_counts=with_counts,
        )
    )


def job_page_query(
    *,
    window: PageWindow,
    statuses: list[str] | None,
    search: str | None,
    ordering: str,
    with_counts: bool,
) -> PageQuery:
    """The statement job_page runs (also what `make bench` gives pgbench)."""
    where, params = _status_filter(statuses)
    extras = []
    if with_counts:
        extras.append(_Extra("counts", COUNTS_SQL, convert=_job_counts_of))
    return _page_sql(
        source=f"{Job._meta.db_table} AS j",
        columns=_JOB_COLUMNS,
        alias="j",
        where=where,
        where_params=params,
        field=ordering.lstrip("-"),
        descending=ordering.startswith("-"),
        window=window,
        extras=extras,
        search=_name_search(search) if search else None,
    )


def _status_filter(statuses: list[str] | None) -> tuple[list[str], list[Any]]:
    if not statuses:
        return [], []
    return [f"j.current_status_type IN ({', '.join(['%s'] * len(statuses))})"], list(statuses)


def job_detail(*, job_id: int) -> tuple[str, int]:
    """One job as the API's JSON, and its version (updated_at in microseconds, for the
    ETag); `JobNotFound` when there is none with this id."""
    with connection.cursor() as cursor:
        cursor.execute(JOB_DETAIL_SQL, [job_id])
        found = cursor.fetchone()
    if found is None:
        raise JobNotFound(job_id)
    return found[0], found[1]


def job_version(*, job_id: int) -> int:
    """A job's version (updated_at in microseconds); `JobNotFound` when it does not
    exist. Every change of a job moves it, events included: it versions the history too."""
    with connection.cursor() as cursor:
        cursor.execute(JOB_VERSION_SQL, [job_id])
        found = cursor.fetchone()
    if found is None:
        raise JobNotFound(job_id)
    return found[0]


def job_status_page(*, job_id: int, window: PageWindow, with_version: bool = False) -> JsonRows:
    """A page of a job's status events, newest first, as the API's JSON, with how many
    events the job has in all; with `with_version`, the job's version too, in the same
    statement, and `JobNotFound` when the job does not exist.

    Without it, the caller has checked that the job exists (job_version): a job always has
    its PENDING event, so an empty history can only mean the job is gone, a 404, not [].
    """
    query = job_status_page_query(job_id=job_id, window=window, with_version=with_version)
    rows = _fetch_rows(query)
    if with_version and rows.version is None:
        raise JobNotFound(job_id)
    return rows


def job_status_page_query(
    *, job_id: int, window: PageWindow, with_version: bool = False
) -> PageQuery:
    """The statement job_status_page runs (also what `make bench` gives pgbench)."""
    table = JobStatus._meta.db_table
    extras = [_Extra("total", f"SELECT count(*) FROM {table} WHERE job_id = %s", (job_id,))]
    if with_version:
        extras.append(_Extra("version", JOB_VERSION_SQL, (job_id,)))
    return _page_sql(
        source=f"{table} AS e",
        columns=_JOB_STATUS_COLUMNS,
        alias="e",
        where=["e.job_id = %s"],
        where_params=[job_id],
        field="timestamp",
        descending=True,
        window=window,
        extras=extras,
    )


@dataclass(frozen=True)
class JobCounts:
    by_status: dict[str, int]
    version: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


# sum() of bigints is numeric in PostgreSQL (a Decimal, rendered 48.0): cast back. One
# array, so that the counts can also be read as one column beside a page.
COUNTS_SQL = (
    "SELECT ARRAY["
    + ", ".join(f"coalesce(sum({status.lower()}), 0)" for status in JobStatusType.values)
    + f", coalesce(sum(version), 0)]::bigint[] FROM {JobCounterShard._meta.db_table}"
)


def _job_counts_of(values: list[int]) -> JobCounts:
    *per_status, version = values
    return JobCounts(
        by_status=dict(zip(JobStatusType.values, per_status, strict=True)), version=version
    )


def job_counts() -> JobCounts:
    """Exact counts per current status and the data version, from the 16 counter shards.

    Plain SQL: this runs on every list request, and the ORM's aggregate() cost more to
    build than the 16-row sum costs to run.
    """
    with connection.cursor() as cursor:
        cursor.execute(COUNTS_SQL)
        (values,) = cursor.fetchone()
    return _job_counts_of(values)


def job_list_count(
    *, statuses: list[str] | None, counts: JobCounts, matches: int | None = None
) -> tuple[int, bool]:
    """The count of a list: exact and O(1) from the counters without a search; with one,
    its `matches` (counted by job_page up to SEARCH_COUNT_LIMIT + 1) as they are, or the
    bound when there are more. Returns (count, exact)."""
    if matches is None:
        by_status = counts.by_status
        return sum(by_status[status] for status in (statuses or by_status)), True
    if matches > SEARCH_COUNT_LIMIT:
        return SEARCH_COUNT_LIMIT, False
    return matches, True
