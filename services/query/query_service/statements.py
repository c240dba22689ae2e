"""The statements of the query service, composed with psycopg's `sql` module.

Identifiers are `sql.Identifier`s of the models' own columns, values are named
placeholders (`%(limit)s`, bound by name, so no list is kept in placeholder order) or,
where the plan must see the value, `sql.Literal`s. The selectors (selectors.py) run
these; why the read side writes SQL by hand at all: docs/decisions.md, "Reads in plain
SQL".
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.db.models import DateTimeField, Field, Model
from psycopg import sql
from psycopg.abc import AdaptContext

from shared.api.etags import job_version_sql
from shared.api.serializers import JobOutputSerializer, JobStatusOutputSerializer
from shared.api.timestamps import POSTGRES_TIMESTAMP_FORMAT
from shared.domain.enums import JobStatusType
from shared.domain.models import (
    Job,
    JobCounterShard,
    JobStatus,
    RollupPastChangeShard,
    RunTimeRollup,
    StatusRollup,
)

# A search that matches more rows than this is not counted to the end: the count says
# "at least this many" (`count_exact: false`; the cost, docs/decisions.md).
SEARCH_COUNT_LIMIT = 1_000

# How many jobs a search's page reads in the page's order, looking for its matches, before
# it gives up on that plan and sorts all the matches instead (see search_rows).
SEARCH_WALK_ROWS = 5_000


@dataclass(frozen=True)
class Statement:
    """A statement and its parameters, by name."""

    sql: sql.SQL | sql.Composed
    params: dict[str, Any]


@dataclass(frozen=True)
class Table:
    """A model's table read under an alias; `columns` is the select list of its rows in
    the API's shape. Columns are named by the model's fields, never typed in."""

    model: type[Model]
    alias_name: str
    columns: sql.Composable

    @property
    def name(self) -> sql.Identifier:
        return sql.Identifier(self.model._meta.db_table)

    @property
    def alias(self) -> sql.Identifier:
        return sql.Identifier(self.alias_name)

    def column(self, field: str) -> sql.Identifier:
        return sql.Identifier(self.alias_name, model_field(self.model, field).column)


@dataclass(frozen=True)
class Order:
    """The order of a page: a model field (also the row's key in the page's JSON), then id
    in the same direction, so that ties are ordered."""

    field: str
    descending: bool


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

    def params(self) -> dict[str, Any]:
        found = {"limit": self.limit, "read": self.limit + 1, "offset": self.offset}
        # Rows from the start of the order up to the page's end, for the search's walk.
        found["reach"] = self.offset + self.limit + 1
        if self.after is not None:
            found["after_key"], found["after_id"] = self.after
        return found


@dataclass(frozen=True)
class Scan:
    """How a page reads its order: against it (a "previous" page) or not, from a keyset
    position or from an offset. With the filters, all a page statement's text depends on:
    the statements are composed once per scan and kept (selectors.py)."""

    order: Order
    backwards: bool = False
    from_position: bool = False

    @classmethod
    def of(cls, order: Order, window: PageWindow) -> "Scan":
        return cls(order, window.backwards, window.after is not None)

    @property
    def descending(self) -> bool:
        return self.order.descending != self.backwards


def rendered(statement: sql.Composable) -> sql.SQL:
    """A composed statement as its text: composing it again on every request (escaping
    each identifier, joining each part) cost as much as a detail read's own work."""
    return sql.SQL(statement.as_string(None))


class Literal(sql.Literal):
    """sql.Literal for statements run with parameters: psycopg reads every `%` of the
    composed text as the start of a placeholder, its literals' too, so they are doubled
    (docs/decisions.md, "Reads in plain SQL")."""

    def as_bytes(self, context: AdaptContext | None = None) -> bytes:
        return super().as_bytes(context).replace(b"%", b"%%")


def api_timestamp(column: sql.Composable) -> sql.Composed:
    """A timestamp as the API writes it, formatted by PostgreSQL: loading it into Python
    and formatting it there cost more than the query (docs/decisions.md)."""
    return sql.SQL("to_char({} AT TIME ZONE 'UTC', {})").format(
        column, Literal(POSTGRES_TIMESTAMP_FORMAT)
    )


def model_field(model: type[Model], name: str) -> Field:
    found = model._meta.get_field(name)
    if not isinstance(found, Field):  # a relation's reverse side has no column
        raise TypeError(f"{model.__name__}.{name} is not a column")
    return found


def _api_columns(model: type[Model], fields: list[str], alias: str) -> sql.Composed:
    """The select list of the API's shape of a row: its fields, in the documented order
    (the DRF output serializers'), under their API names."""
    columns = []
    for name in fields:
        model_column = model_field(model, name)
        column: sql.Composable = sql.Identifier(alias, model_column.column)
        if isinstance(model_column, DateTimeField):
            column = api_timestamp(column)
        columns.append(sql.SQL("{} AS {}").format(column, sql.Identifier(name)))
    return sql.SQL(", ").join(columns)


JOBS = Table(Job, "j", _api_columns(Job, JobOutputSerializer.Meta.fields, "j"))


def _duration(alias: str) -> sql.Composed:
    """How long the job stayed in an event's status: to its next event (the history index
    finds it, one probe per row read), null for the current one. Timestamps strictly
    increase per job, so the next event is the first one after it."""
    table = sql.Identifier(JobStatus._meta.db_table)
    job, at = (model_field(JobStatus, name).column for name in ("job", "timestamp"))
    return sql.SQL(
        "(SELECT extract(epoch FROM n.{at} - {a}.{at}) FROM {table} AS n "
        "WHERE n.{job} = {a}.{job} AND n.{at} > {a}.{at} ORDER BY n.{at} LIMIT 1) "
        "AS duration_seconds"
    ).format(at=sql.Identifier(at), job=sql.Identifier(job), a=sql.Identifier(alias), table=table)


_EVENT_FIELDS = [f for f in JobStatusOutputSerializer.Meta.fields if f != "duration_seconds"]
EVENTS = Table(
    JobStatus,
    "e",
    sql.SQL(", ").join([_api_columns(JobStatus, _EVENT_FIELDS, "e"), _duration("e")]),
)

_VERSION = sql.SQL(job_version_sql("{}")).format(JOBS.column("updated_at"))
# One job as the API's JSON, and its version; the version alone (a history's ETag).
JOB_DETAIL = rendered(
    sql.SQL(
        "SELECT row_to_json(p)::text AS job, {version} AS version FROM {table} AS {j}, "
        "LATERAL (SELECT {columns}) AS p WHERE {id} = %(job_id)s"
    ).format(
        version=_VERSION, table=JOBS.name, j=JOBS.alias, columns=JOBS.columns, id=JOBS.column("id")
    )
)
JOB_VERSION = rendered(
    sql.SQL("SELECT {version} AS version FROM {table} AS {j} WHERE {id} = %(job_id)s").format(
        version=_VERSION, table=JOBS.name, j=JOBS.alias, id=JOBS.column("id")
    )
)
OF_JOB = sql.SQL("{} = %(job_id)s").format(EVENTS.column("job"))
JOB_EVENT_COUNT = rendered(
    sql.SQL("SELECT count(*) FROM {table} AS {e} WHERE {job} = %(job_id)s").format(
        table=EVENTS.name, e=EVENTS.alias, job=EVENTS.column("job")
    )
)

# The counters of every status and the data version, summed over the shards as one
# bigint array (sum() of bigints is numeric), so they can be read as one column of a page.
COUNTS = rendered(
    sql.SQL("SELECT ARRAY[{sums}]::bigint[] AS counts FROM {table}").format(
        sums=sql.SQL(", ").join(
            sql.SQL("coalesce(sum({}), 0)").format(
                sql.Identifier(model_field(JobCounterShard, column).column)
            )
            for column in [*(status.lower() for status in JobStatusType.values), "version"]
        ),
        table=sql.Identifier(JobCounterShard._meta.db_table),
    )
)


def _bucket_sums(model: type[Model], key: str, measure: str) -> sql.Composed:
    """A rollup's rows of one bucket size from %(first)s up to %(end)s (a range of its
    primary key), summed over the shards, as one text of numbers: "start key sum start key
    sum ...", the start in epoch seconds ('' when there is none). Plain numbers, unordered
    and with zero sums left in: JSON per row, an ORDER BY in the aggregate and a HAVING
    were each a sizeable share of a 7-day read's time (docs/performance.md)."""
    start, key_column, value = (
        sql.Identifier(model_field(model, name).column) for name in ("bucket_start", key, measure)
    )
    return sql.SQL(
        "SELECT coalesce(string_agg(concat_ws(' ', date_part('epoch', {start})::bigint, k, n), "
        "' '), '') FROM (SELECT {start}, {key} AS k, sum({value}) AS n "
        "FROM {table} WHERE {size} = %(size)s AND {start} >= %(first)s AND {start} < %(end)s "
        "GROUP BY {start}, {key}) AS sums"
    ).format(
        start=start,
        key=key_column,
        value=value,
        table=sql.Identifier(model._meta.db_table),
        size=sql.Identifier(model_field(model, "bucket_size").column),
    )


# The stats of a range of buckets, from the rollups alone (never the events), with the
# counters' data version for the ETag, in one statement: one snapshot.
# With them, how often closed buckets changed (RollupPastChangeShard) and the database's
# clock, by which a bucket is closed: what lets the query service keep closed buckets.
STATS = rendered(
    sql.SQL(
        "SELECT ({counts}) AS counts, ({entered}) AS entered, ({runs}) AS runs, "
        "(SELECT coalesce(sum({version}), 0)::bigint FROM {past}) AS past_changes, "
        "date_part('epoch', now()) AS now"
    ).format(
        counts=COUNTS,
        entered=_bucket_sums(StatusRollup, "status_type", "entered"),
        runs=_bucket_sums(RunTimeRollup, "bin", "finished"),
        version=sql.Identifier(model_field(RollupPastChangeShard, "version").column),
        past=sql.Identifier(RollupPastChangeShard._meta.db_table),
    )
)


def all_of(conditions: list[sql.Composable]) -> sql.Composable:
    return sql.SQL(" AND ").join(conditions) if conditions else sql.SQL("TRUE")


def any_status(table: Table, count: int) -> sql.Composed:
    """`current_status_type IN (...)` with `count` placeholders, status_0 onwards."""
    placeholders = (sql.Placeholder(f"status_{n}") for n in range(count))
    return sql.SQL("{} IN ({})").format(
        table.column("current_status_type"), sql.SQL(", ").join(placeholders)
    )


# The list's time windows: each bound's parameter, the column it bounds and how (the
# lower bound inclusive, the upper exclusive).
TIME_BOUNDS = {
    "created_after": ("created_at", ">="),
    "created_before": ("created_at", "<"),
    "status_changed_after": ("current_status_timestamp", ">="),
    "status_changed_before": ("current_status_timestamp", "<"),
}


def in_time_window(table: Table, bound: str) -> sql.Composed:
    """`column >= %(bound)s` (or `<`): a range condition on an indexed column, which an
    index in that column's order reads as a range."""
    field, operator = TIME_BOUNDS[bound]
    return sql.SQL("{} {} {}").format(
        table.column(field), sql.SQL(operator), sql.Placeholder(bound)
    )


def counted_up_to_the_bound(table: Table, where: list[sql.Composable], along: str) -> sql.Composed:
    """How many rows match `where`, counted up to SEARCH_COUNT_LIMIT + 1 as a search's
    matches are: a wide window is not counted to its end. Read in the order of `along`, a
    windowed column, so that its index reads the window's range (else a status filter's
    index reads every job of the status and filters the window)."""
    return sql.SQL(
        "SELECT count(*) FROM (SELECT 1 FROM {table} AS {a} WHERE {where} "
        "ORDER BY {along} LIMIT {limit}) AS m"
    ).format(
        table=table.name,
        a=table.alias,
        where=all_of(where),
        along=table.column(along),
        limit=Literal(SEARCH_COUNT_LIMIT + 1),
    )


def name_contains(table: Table, term: str) -> sql.Composed:
    """`name ILIKE '%term%'` with the pattern as a literal, not a parameter: the right plan
    depends on the term (a one-letter term must be read in order; a rare one through the
    trigram index), which a generic plan cannot see (docs/decisions.md, "term written in
    as a literal"). Each term is a statement of its own, prepared when it repeats."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    pattern = Literal(f"%{escaped}%")
    return sql.SQL("{} ILIKE {}").format(table.column("name"), pattern)


def order_by(table: Table, scan: Scan) -> sql.Composed:
    direction = sql.SQL("DESC" if scan.descending else "ASC")
    return sql.SQL("{} {}, {} {}").format(
        table.column(scan.order.field), direction, table.column("id"), direction
    )


def after_position(table: Table, scan: Scan) -> list[sql.Composable]:
    """The keyset condition of a page that starts beyond a position, if it does."""
    if not scan.from_position:
        return []
    beyond = "<" if scan.descending else ">"
    return [
        sql.SQL("({}, {}) {} (%(after_key)s, %(after_id)s)").format(
            table.column(scan.order.field), table.column("id"), sql.SQL(beyond)
        )
    ]


@dataclass(frozen=True)
class Rows:
    """The rows of a page, read in order, one more than the page holds (to know whether
    more follow): a SELECT, and the WITH clause it needs at the top of the statement (a
    search's, whose matches an extra column counts)."""

    select: sql.Composable
    with_clause: sql.Composable = field(default_factory=lambda: sql.SQL(""), kw_only=True)


def page(*, rows: Rows, scan: Scan, extras: Mapping[str, sql.Composable]) -> sql.Composed:
    """One statement for one page around its rows, its columns named: `results`, the
    page's JSON array in the order shown; `keys` and `ids` of the rows read (for the
    cursors); then each extra's value under its name. `row_number() OVER ()` numbers the
    rows as the subquery delivers them."""
    return sql.SQL(
        "{with_clause}SELECT '[' || "
        "coalesce(string_agg(row_to_json(q.p)::text, ',' ORDER BY q.n {shown})"
        " FILTER (WHERE q.n <= %(limit)s), '') || ']' AS results, "
        "array_agg((q.p).{key}::text ORDER BY q.n) AS keys, "
        "array_agg((q.p).{id} ORDER BY q.n) AS ids{extras}"
        " FROM (SELECT p, row_number() OVER () AS n FROM ({rows}) AS p) AS q"
    ).format(
        with_clause=rows.with_clause,
        shown=sql.SQL("DESC" if scan.backwards else "ASC"),
        key=sql.Identifier(scan.order.field),
        id=sql.Identifier("id"),
        extras=sql.Composed(
            [
                sql.SQL(", ({}) AS {}").format(extra, sql.Identifier(name))
                for name, extra in extras.items()
            ]
        ),
        rows=rows.select,
    )


def ordered_rows(table: Table, scan: Scan, where: list[sql.Composable]) -> Rows:
    """A page's rows straight from the order (its index): no search."""
    select = sql.SQL(
        "SELECT {columns} FROM {table} AS {a} WHERE {where} ORDER BY {order} "
        "LIMIT %(read)s OFFSET %(offset)s"
    ).format(
        columns=table.columns,
        table=table.name,
        a=table.alias,
        where=all_of([*where, *after_position(table, scan)]),
        order=order_by(table, scan),
    )
    return Rows(select)


# A search's three plans, chosen inside the statement. `matches` holds the search's first
# SEARCH_COUNT_LIMIT + 1 matches in any order (the trigram index): when there are no more
# (`few`), the page is sorted from them. Otherwise `walk` reads at most SEARCH_WALK_ROWS
# jobs in the page's order, which finds a common term's page early; when that fell short,
# all the matches are sorted. Only the plan chosen runs: the others are behind one-time
# conditions. Why not PostgreSQL's own choice: docs/decisions.md, "Search plans".
_SEARCH_WITH = sql.SQL(
    "WITH matches AS MATERIALIZED ("
    "SELECT {keys} FROM {table} AS {a} WHERE {filtered} LIMIT {count_limit}), "
    "walk AS MATERIALIZED (SELECT {a}.* FROM ("
    "SELECT * FROM {table} AS {a} WHERE {positioned} ORDER BY {order} LIMIT {walk_rows}"
    ") AS {a} WHERE {search} ORDER BY {order} LIMIT %(reach)s) "
)
_SEARCH_ROWS = sql.SQL(
    # `matches` and `walk` are read under the table's alias, so the order and the keyset
    # condition apply to them as written. The page's ids join the table (unique: no IN).
    "(SELECT {columns} FROM (SELECT {id} FROM matches AS {a} WHERE {keyset} "
    "ORDER BY {order} LIMIT %(read)s OFFSET %(offset)s) AS page "
    "JOIN {table} AS {a} ON {id} = {page_id} WHERE {few} ORDER BY {order}) "
    "UNION ALL (SELECT {columns} FROM walk AS {a} WHERE NOT {few} "
    "AND (SELECT count(*) FROM walk) = %(reach)s ORDER BY {order} OFFSET %(offset)s) "
    # OFFSET 0 keeps PostgreSQL from reading the matches in order again: it finds them all,
    # keeps the page's in a bounded sort, and only then formats them.
    "UNION ALL (SELECT {columns} FROM (SELECT * FROM (SELECT * FROM {table} AS {a} "
    "WHERE {everything} OFFSET 0) AS {a} WHERE NOT {few} "
    "AND (SELECT count(*) FROM walk) < %(reach)s ORDER BY {order} "
    "LIMIT %(read)s OFFSET %(offset)s) AS {a} ORDER BY {order})"
)


def search_rows(
    table: Table,
    scan: Scan,
    where: list[sql.Composable],
    search: sql.Composable,
) -> Rows:
    """A search's page rows, by whichever of three plans suits its term (_SEARCH_WITH,
    _SEARCH_ROWS). The two bounds are literals, so that every plan is costed for them."""
    keyset = after_position(table, scan)
    keys = [table.column("id")]
    if scan.order.field != "id":
        keys.append(table.column(scan.order.field))
    parts = dict(
        id=table.column("id"),
        page_id=sql.Identifier("page", model_field(table.model, "id").column),
        keys=sql.SQL(", ").join(keys),
        table=table.name,
        a=table.alias,
        columns=table.columns,
        filtered=all_of([*where, search]),
        positioned=all_of([*where, *keyset]),
        keyset=all_of(keyset),
        everything=all_of([*where, search, *keyset]),
        search=search,
        order=order_by(table, scan),
        count_limit=Literal(SEARCH_COUNT_LIMIT + 1),
        walk_rows=Literal(SEARCH_WALK_ROWS),
        few=sql.SQL("((SELECT count(*) FROM matches) <= {})").format(Literal(SEARCH_COUNT_LIMIT)),
    )
    return Rows(_SEARCH_ROWS.format(**parts), with_clause=_SEARCH_WITH.format(**parts))


MATCH_COUNT = sql.SQL("SELECT count(*) FROM matches")
