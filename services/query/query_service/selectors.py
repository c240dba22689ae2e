"""Read logic of the query service. Read-only by construction: its database role can only SELECT.

Each selector runs one statement of statements.py and gives a small result type; a page's
rows come as the JSON array the API sends, written by PostgreSQL (docs/decisions.md,
"Reads in plain SQL").
"""

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any, NoReturn

from django.db import OperationalError, connections
from psycopg import sql
from psycopg.errors import QueryCanceled

from query_service import routing, statements
from query_service.statements import EVENTS, JOBS, Order, PageWindow, Scan, Statement
from shared.api.problem_types import QUERY_TIMEOUT
from shared.api.problems import JobNotFound, ProblemError
from shared.domain import rollups
from shared.domain.enums import JobStatusType

logger = logging.getLogger("jobs.problems")

# The orderings of the list, each mapped to its column here, whatever a caller passes: a
# column, then id in the same direction, so pages are stable when many jobs share a value.
JOB_ORDERS = {
    f"{direction}{field}": Order(field=field, descending=direction == "-")
    for field in ("created_at", "name", "current_status_timestamp", "id")
    for direction in ("", "-")
}
JOB_ORDERINGS = tuple(JOB_ORDERS)
DEFAULT_JOB_ORDERING = "-created_at"
# A history is newest first; its cursors name this ordering.
HISTORY_ORDERING = "-timestamp"
_HISTORY_ORDER = Order(field="timestamp", descending=True)


@dataclass(frozen=True)
class PageRows:
    """A page's rows as the JSON array the API sends, and the sort key (as the JSON shows
    it) and id of every row read, in reading order: one more than the page holds when more
    rows follow it."""

    json: str
    keys: list[str]
    ids: list[int]


@dataclass(frozen=True)
class JobCounts:
    by_status: dict[str, int]
    version: int

    @property
    def total(self) -> int:
        return sum(self.by_status.values())


@dataclass(frozen=True)
class JobPage:
    """A page of the list, its count (exact, or a search's bound: `count_exact`), and the
    data version it was read at (for its ETag), all from one statement."""

    rows: PageRows
    count: int
    count_exact: bool
    version: int


@dataclass(frozen=True)
class JobStatusPage:
    """A page of a job's history, how many events the job has (`count`, always exact),
    and the job's version."""

    rows: PageRows
    count: int
    job_version: int

    @property
    def count_exact(self) -> bool:
        return True


class ReadTimedOut(ProblemError):
    """A read stopped by the statement timeout (docs/decisions.md, "Reads stop after 2 s"):
    the database is fine, this read is not. No Retry-After: it would take as long again."""

    status = 503
    problem = QUERY_TIMEOUT
    default_detail = (
        "This read took too long and was stopped. Search terms of three or more characters "
        "use the search index; a shorter one that matches few jobs has to read every job. "
        "Narrow the request and try again."
    )


def _fetch_one(statement: Statement) -> dict[str, Any]:
    """The statement's one row, by column name; empty when it has none. Read where this
    request reads (routing.py); a standby that fails mid-read leaves it to the primary, a
    primary found away to the standby."""
    alias = routing.current().alias
    try:
        return _run(statement, alias)
    except OperationalError as error:
        if alias == routing.PRIMARY:
            if routing.fall_back_to_replica() is None:
                _primary_failed(error)
            return _run(statement, routing.REPLICA)
    try:
        return _run(statement, routing.fall_back_to_primary().alias)
    except OperationalError as error:
        _primary_failed(error)


def _primary_failed(error: OperationalError) -> NoReturn:
    """With a standby, a token's read the primary cannot answer is
    `consistency-unavailable` (retry with the token), as when the standby lacks its write;
    any other is the database's 503."""
    if routing.has_replica() and routing.current().token is not None:
        raise routing.ConsistencyUnavailable from error
    raise error


def _run(statement: Statement, alias: str) -> dict[str, Any]:
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(statement.sql, statement.params)
            row = cursor.fetchone()
            names = [column.name for column in cursor.description]
    except OperationalError as error:
        if isinstance(error.__cause__, QueryCanceled):
            logger.warning("read cancelled by the statement timeout")
            raise ReadTimedOut from error
        raise
    return {} if row is None else dict(zip(names, row, strict=True))


def _page_rows(found: dict[str, Any]) -> PageRows:
    return PageRows(found["results"], found["keys"] or [], found["ids"] or [])


def _counts_of(values: list[int]) -> JobCounts:
    *per_status, version = values
    return JobCounts(
        by_status=dict(zip(JobStatusType.values, per_status, strict=True)), version=version
    )


@lru_cache(maxsize=512)
def _job_page_sql(
    scan: Scan, status_count: int, search: str | None, bounds: tuple[str, ...] = ()
) -> sql.SQL:
    """A list page's statement for one shape, composed once: a search term is part of
    the text (statements.name_contains), so each term is a shape of its own; so is each
    set of time bounds given (their instants are parameters)."""
    where: list[Any] = [statements.any_status(JOBS, status_count)] if status_count else []
    where += [statements.in_time_window(JOBS, bound) for bound in bounds]
    extras: dict[str, sql.Composable] = {"counts": statements.COUNTS}
    if search:
        rows = statements.search_rows(JOBS, scan, where, statements.name_contains(JOBS, search))
        extras["matches"] = statements.MATCH_COUNT
    else:
        rows = statements.ordered_rows(JOBS, scan, where)
        if bounds:
            windowed = [statements.TIME_BOUNDS[bound][0] for bound in bounds]
            along = scan.order.field if scan.order.field in windowed else windowed[0]
            extras["matches"] = statements.counted_up_to_the_bound(JOBS, where, along)
    return statements.rendered(statements.page(rows=rows, scan=scan, extras=extras))


def job_page_query(
    *,
    window: PageWindow,
    statuses: list[str] | None,
    search: str | None,
    ordering: str,
    times: Mapping[str, datetime] | None = None,
) -> Statement:
    """The statement of job_page (also what `make bench` gives pgbench): the rows, the
    counters, and with a search or a time window its matches counted up to
    SEARCH_COUNT_LIMIT + 1."""
    scan = Scan.of(JOB_ORDERS[ordering], window)
    params = window.params()
    params.update((f"status_{n}", status) for n, status in enumerate(statuses or ()))
    bounds = tuple(bound for bound in statements.TIME_BOUNDS if bound in (times or {}))
    params.update((bound, (times or {})[bound]) for bound in bounds)
    return Statement(_job_page_sql(scan, len(statuses or ()), search or None, bounds), params)


def job_page(
    *,
    window: PageWindow,
    statuses: list[str] | None = None,
    search: str | None = None,
    ordering: str = DEFAULT_JOB_ORDERING,
    times: Mapping[str, datetime] | None = None,
) -> JobPage:
    """A page of jobs filtered by current status (any of `statuses`), by a
    case-insensitive substring of the name and by time windows (`times`: bounds of
    statements.TIME_BOUNDS), in the given order. The count is exact and O(1) from the
    counters with neither a search nor a window; else it counts the matches, up to
    SEARCH_COUNT_LIMIT, beyond which it is that bound and not exact."""
    query = job_page_query(
        window=window, statuses=statuses, search=search, ordering=ordering, times=times
    )
    found = _fetch_one(query)
    rows, counts = _page_rows(found), _counts_of(found["counts"])
    if "matches" in found:
        matches, bound = found["matches"], statements.SEARCH_COUNT_LIMIT
        return JobPage(rows, min(matches, bound), matches <= bound, counts.version)
    count = sum(counts.by_status[status] for status in statuses or counts.by_status)
    return JobPage(rows, count, True, counts.version)


def job_detail_query(*, job_id: int) -> Statement:
    """The statement of job_detail (also what `make bench` gives pgbench)."""
    return Statement(statements.JOB_DETAIL, {"job_id": job_id})


def job_detail(*, job_id: int) -> tuple[str, int]:
    """One job as the API's JSON, and its version (updated_at in microseconds, for the
    ETag); `JobNotFound` when there is none with this id."""
    found = _fetch_one(job_detail_query(job_id=job_id))
    if not found:
        raise JobNotFound(job_id)
    return found["job"], found["version"]


def job_version(*, job_id: int) -> int:
    """A job's version (updated_at in microseconds); `JobNotFound` when it does not
    exist. Every change of a job moves it, events included: it versions the history too."""
    found = _fetch_one(Statement(statements.JOB_VERSION, {"job_id": job_id}))
    if not found:
        raise JobNotFound(job_id)
    return found["version"]


@lru_cache(maxsize=8)
def _job_status_page_sql(scan: Scan) -> sql.SQL:
    rows = statements.ordered_rows(EVENTS, scan, [statements.OF_JOB])
    extras = {"count": statements.JOB_EVENT_COUNT, "job_version": statements.JOB_VERSION}
    return statements.rendered(statements.page(rows=rows, scan=scan, extras=extras))


def job_status_page_query(*, job_id: int, window: PageWindow) -> Statement:
    """The statement of job_status_page (also what `make bench` gives pgbench)."""
    statement = _job_status_page_sql(Scan.of(_HISTORY_ORDER, window))
    return Statement(statement, {**window.params(), "job_id": job_id})


def job_status_page(*, job_id: int, window: PageWindow) -> JobStatusPage:
    """A page of a job's status events, newest first, with how many events the job has
    and its version, in one statement; `JobNotFound` when the job does not exist."""
    query = job_status_page_query(job_id=job_id, window=window)
    found = _fetch_one(query)
    if found["job_version"] is None:
        raise JobNotFound(job_id)
    return JobStatusPage(_page_rows(found), found["count"], found["job_version"])


def job_counts_query() -> Statement:
    """The statement of job_counts (also what `make bench` gives pgbench)."""
    return Statement(statements.COUNTS, {})


def job_counts() -> JobCounts:
    """Exact counts per current status and the data version, from the counter shards."""
    return _counts_of(_fetch_one(job_counts_query())["counts"])


@dataclass(frozen=True)
class BucketRange:
    """Consecutive buckets of one size (rollups.BUCKET_SECONDS), aligned to UTC: `count`
    of them from `first`."""

    size: str
    first: datetime
    count: int

    @property
    def step(self) -> timedelta:
        return timedelta(seconds=rollups.BUCKET_SECONDS[self.size])

    @property
    def end(self) -> datetime:
        return self.first + self.count * self.step


def job_stats_query(buckets: BucketRange) -> Statement:
    """The statement of job_stats (also what `make bench` gives pgbench)."""
    params = {"size": buckets.size, "first": buckets.first, "end": buckets.end}
    return Statement(statements.STATS, params)


# A bucket that ended this long before the database's clock is closed: appends no longer
# reach it, only what moves the past-changes version (migration 0012, the same margin).
_CLOSED_AFTER = 5 * 60


_COMPACT = (",", ":")


@dataclass
class _Bucket:
    """One bucket's counts per status and run-time histogram (ascending bins), and its
    figures as the API gives them, computed once (a kept bucket is read again and again)."""

    entered: dict[str, int]
    runs: list[tuple[int, int]]
    _entry: dict[str, Any] | None = None
    _entry_text: str | None = None

    def entry(self, start: datetime) -> dict[str, Any]:
        """The bucket as the API lists it (a bucket object is only ever at one start)."""
        if self._entry is None:
            self._entry = {"start": _api_time(start), **_bucket_stats(self.entered, self.runs)}
        return self._entry

    def entry_text(self) -> str:
        """entry() as JSON (after entry() was called)."""
        if self._entry_text is None:
            self._entry_text = json.dumps(self._entry, separators=_COMPACT)
        return self._entry_text


@dataclass(frozen=True)
class JobStats:
    """The stats of a bucket range as the API's JSON body, and the data version they were
    read at (for the ETag). `text()` is the body as JSON, each bucket's part written once
    per process and kept with the bucket."""

    body: dict[str, Any]
    version: int
    buckets: list[_Bucket]

    def text(self) -> str:
        head = {name: value for name, value in self.body.items() if name != "buckets"}
        listed = ",".join(bucket.entry_text() for bucket in self.buckets)
        return f'{json.dumps(head, separators=_COMPACT)[:-1]},"buckets":[{listed}]}}'


class _ClosedBuckets:
    """Closed buckets as last read, per process, with the past-changes version they were
    read at: a 7-day read then sums the open buckets' rows only, not 6,000 bins
    (docs/performance.md). Bounded; forgotten whole when the version moves."""

    LIMIT = 20_000
    SUMS_LIMIT = 64

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._version: int | None = None
        self._buckets: dict[tuple[str, int], _Bucket] = {}
        # A kept prefix's sums for the range's total, by (size, first start, buckets):
        # the dashboard asks the same few ranges again and again.
        self._sums: dict[tuple[str, int, int], tuple[dict[str, int], dict[int, int]]] = {}

    def prefix(self, size: str, starts: range) -> tuple[int | None, list[_Bucket]]:
        """The version and the kept buckets at the start of `starts` (epoch seconds)."""
        with self._lock:
            kept = []
            for start in starts:
                if (bucket := self._buckets.get((size, start))) is None:
                    break
                kept.append(bucket)
            return self._version, kept

    def prefix_sums(
        self, version: int | None, size: str, first: int, kept: list[_Bucket]
    ) -> tuple[dict[str, int], dict[int, int]]:
        """The sums of `kept` (the buckets prefix() gave at `version` from `first`):
        counts per status and per run-time bin."""
        if not kept:
            return {}, {}
        key = (size, first, len(kept))
        with self._lock:
            if version == self._version and (sums := self._sums.get(key)) is not None:
                return sums
        sums = (_summed_entered([b.entered for b in kept]), _summed_runs([b.runs for b in kept]))
        with self._lock:
            if version == self._version:
                if len(self._sums) >= self.SUMS_LIMIT:
                    self._sums.clear()
                self._sums[key] = sums
        return sums

    def forget(self) -> None:
        """For tests: a test's rolled-back writes can bring a version number back."""
        with self._lock:
            self._buckets.clear()
            self._sums.clear()
            self._version = None

    def keep(self, version: int, size: str, buckets: dict[int, _Bucket]) -> None:
        with self._lock:
            # Versions only grow: a read at an older one (a slower thread, a standby
            # behind) must not replace what a newer read kept.
            if self._version is not None and version < self._version:
                return
            if version != self._version or len(self._buckets) + len(buckets) > self.LIMIT:
                self._buckets.clear()
                self._sums.clear()
                self._version = version
            self._buckets.update(((size, start), bucket) for start, bucket in buckets.items())


_closed = _ClosedBuckets()


def _read_buckets(buckets: BucketRange) -> tuple[dict[str, Any], list[_Bucket]]:
    """The statement's row and the buckets of `buckets` from it."""
    found = _fetch_one(job_stats_query(buckets))
    step = int(buckets.step.total_seconds())
    first = int((buckets.first - _EPOCH).total_seconds())
    read = [_Bucket(dict.fromkeys(_STATUSES, 0), []) for _ in range(buckets.count)]
    for at, status, entries in _triples(found["entered"]):
        read[(int(at) - first) // step].entered[status] = int(entries)
    numbers = list(map(int, found["runs"].split()))
    for start, k, count in zip(numbers[0::3], numbers[1::3], numbers[2::3], strict=True):
        if count:  # 0: a bin whose runs were all deleted
            read[(start - first) // step].runs.append((k, count))
    for bucket in read:
        bucket.runs.sort()  # the statement reads them in this order already; nothing promises it
    return found, read


def job_stats(buckets: BucketRange) -> JobStats:
    """Per bucket: events entering each status, finishes, failure rate, run-time
    percentiles; and the same over the whole range. Read from the rollups alone, and of
    the closed buckets only those this process has not kept (_ClosedBuckets)."""
    step = int(buckets.step.total_seconds())
    first = int((buckets.first - _EPOCH).total_seconds())
    starts = range(first, first + buckets.count * step, step)
    version, kept = _closed.prefix(buckets.size, starts)
    rest = BucketRange(
        buckets.size, buckets.first + len(kept) * buckets.step, buckets.count - len(kept)
    )
    found, read = _read_buckets(rest)
    if kept and found["past_changes"] != version:  # kept before a change to the past
        kept = []
        found, read = _read_buckets(buckets)
    closed_before = found["now"] - _CLOSED_AFTER
    _closed.keep(
        found["past_changes"],
        buckets.size,
        {
            start: bucket
            for start, bucket in zip(starts[len(kept) :], read, strict=True)
            if start + step <= closed_before
        },
    )
    kept_entered, kept_runs = _closed.prefix_sums(version, buckets.size, first, kept)
    entered = _summed_entered([kept_entered, *(bucket.entered for bucket in read)])
    runs = _summed_runs([list(kept_runs.items()), *(bucket.runs for bucket in read)])
    body = {
        "bucket": buckets.size,
        "since": _api_time(buckets.first),
        "until": _api_time(buckets.end),
        "run_time_relative_error": math.ceil(rollups.RELATIVE_ERROR * 1e6) / 1e6,
        "total": _bucket_stats(entered, sorted(runs.items())),
        "buckets": [
            bucket.entry(buckets.first + n * buckets.step) for n, bucket in enumerate(kept + read)
        ],
    }
    return JobStats(body, _counts_of(found["counts"]).version, kept + read)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _triples(text: str) -> Iterator[tuple[str, str, str]]:
    """ "a b c a b c ..." as (a, b, c) triples (statements._bucket_sums)."""
    words = iter(text.split())
    return zip(words, words, words, strict=True)


def _api_time(at: datetime) -> str:
    """A UTC bucket bound as the API writes times. Not by strftime, whose %Y writes the
    years before 1000 without their zeros (a range may start in year 1)."""
    return at.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_STATUSES = tuple(JobStatusType.values)  # a property that builds its list on every call


def _summed_entered(entered: Iterable[dict[str, int]]) -> dict[str, int]:
    summed = dict.fromkeys(_STATUSES, 0)
    for bucket in entered:
        for status, count in bucket.items():
            summed[status] += count
    return summed


def _summed_runs(runs: Iterable[list[tuple[int, int]]]) -> dict[int, int]:
    """Finishes per run-time bin (in no order)."""
    summed: dict[int, int] = {}
    for bucket in runs:
        for k, count in bucket:
            summed[k] = summed.get(k, 0) + count
    return summed


_QUANTILES = (0.5, 0.95, 1.0)
# Each figure in milliseconds, the maximum rounded up: it is promised at or above the
# longest run.
_RUN_TIME_FIGURES: tuple[tuple[str, Callable[[float], int]], ...] = (
    ("p50_seconds", round),
    ("p95_seconds", round),
    ("max_seconds", math.ceil),
)


def _bucket_stats(entered: dict[str, int], runs: list[tuple[int, int]]) -> dict[str, Any]:
    """One bucket's (or the range's) figures from its counts per status and its run-time
    histogram (ascending bins)."""
    failed = entered["FAILED"]
    finished = sum(entered[status] for status in rollups.FINISHING)
    return {
        "entered": entered,
        "finished": finished,
        "failure_rate": round(failed / finished, 4) if finished else None,
        "run_time": {
            "count": sum(count for _, count in runs),
            **{
                name: None if value is None else rounding(value * 1000) / 1000
                for (name, rounding), value in zip(
                    _RUN_TIME_FIGURES, rollups.quantiles(_QUANTILES, runs), strict=True
                )
            },
        },
    }
