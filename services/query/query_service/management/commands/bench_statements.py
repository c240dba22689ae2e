"""`python manage.py bench_statements`: the statements this service runs for the reads
`make bench` measures, as pgbench scripts, and the cursor of the deep page it measures.

The launcher runs no code of the service in its own process: it runs this command with
the service's environment and reads one JSON object from stdout:

    {"lists": {QUERY: SCRIPT, ...}, "deep_page": {"cursor": TOKEN, "script": SCRIPT},
     "detail": SCRIPT, "history": SCRIPT, "summary": SCRIPT, "stats": {QUERY: SCRIPT, ...}}

A list page is named by its query string as the API takes it (`status=FAILED,PENDING`,
`search=etl`, `created_after=...`, the empty string for the first page), given by --list;
the deep page is the cursor page after the job of --deep-key (its created_at) and
--deep-id; detail and history read the job that pgbench's variable --job-id-variable
holds; a stats read is named by its query string too (--stats, e.g.
`bucket=hour&since=...`), its range resolved against the clock as the API does. Each
script is the
statement with its parameters inlined, ready for `pgbench -M prepared`.
"""

import json
import re
from datetime import datetime
from typing import Any

import psycopg
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection
from django.http import QueryDict
from django.utils import timezone
from rest_framework.exceptions import ValidationError

from query_service import selectors
from query_service.pagination import Cursor
from query_service.serializers import (
    DEFAULT_LIMIT,
    JobListFilterSerializer,
    StatsParamsSerializer,
    bucket_range,
    query_params_data,
)
from query_service.statements import TIME_BOUNDS, Statement

# Two job ids that stand in for pgbench's variable. A statement built with each must read
# the same once the id is the variable: no other number of it can become the variable.
_STAND_INS = (987_654_321_987, 876_543_219_876)

# A quoted part of a statement: an E'' literal (backslash escapes), a plain literal or a
# quoted identifier, each with its quote doubled inside.
_QUOTED = re.compile(r"""[Ee]'(?:[^'\\]|\\.|'')*'|'(?:[^']|'')*'|"(?:[^"]|"")*\"""", re.S)
# `:name` as pgbench reads it: a colon that does not follow a colon (`::` is a cast),
# then a letter, `_` or a non-ASCII character.
_PGBENCH_VARIABLE = re.compile(r"(?<!:):([A-Za-z_\x80-\U0010ffff][0-9A-Za-z_\x80-\U0010ffff]*)")


def _reads(
    lists: dict[str, dict[str, Any]],
    stats: dict[str, selectors.BucketRange],
    deep_key: str,
    deep_id: int,
    job_id: int,
) -> tuple[dict[str, Any], str]:
    """All that this command takes from the service's read code: the statement of each
    list page (by query string: its filters, order and time windows), of the deep page, of
    one job, its history and the summary, and the deep page's cursor."""
    ordering = selectors.DEFAULT_JOB_ORDERING

    def page(after: tuple[Any, int] | None = None, **filters: Any) -> Statement:
        return selectors.job_page_query(
            window=selectors.PageWindow(limit=DEFAULT_LIMIT, after=after),
            **{"statuses": None, "search": None, "ordering": ordering, **filters},
        )

    statements = {
        "lists": {query: page(**filters) for query, filters in lists.items()},
        "deep_page": page(after=(datetime.fromisoformat(deep_key), deep_id)),
        "detail": selectors.job_detail_query(job_id=job_id),
        "history": selectors.job_status_page_query(
            job_id=job_id, window=selectors.PageWindow(limit=DEFAULT_LIMIT)
        ),
        "summary": selectors.job_counts_query(),
        "stats": {query: selectors.job_stats_query(buckets) for query, buckets in stats.items()},
    }
    return statements, Cursor(ordering, deep_key, deep_id, False).encode()


def _list_filters(query: str) -> dict[str, Any]:
    """The filters, order and time windows of a list page's query string, read by the
    list's own serializer, as the API reads them (its page size and mode are the bench's)."""
    serializer = JobListFilterSerializer(
        data=query_params_data(QueryDict(query), multi_valued=JobListFilterSerializer.multi_valued)
    )
    if not serializer.is_valid():
        raise CommandError(f"--list {query!r}: {dict(serializer.errors)}")
    params = serializer.validated_data
    return {
        "statuses": params.get("status"),
        "search": params.get("search") or None,
        "ordering": params["ordering"],
        "times": {bound: params[bound] for bound in TIME_BOUNDS if bound in params},
    }


def _stats_buckets(query: str) -> selectors.BucketRange:
    """The buckets of a stats query string, read as the API reads it."""
    serializer = StatsParamsSerializer(data=query_params_data(QueryDict(query)))
    try:
        serializer.is_valid(raise_exception=True)
        return bucket_range(dict(serializer.validated_data), timezone.now())
    except ValidationError as error:
        raise CommandError(f"--stats {query!r}: {error.detail}") from None


def _escape_colons(match: re.Match[str]) -> str:
    """A string literal with colons as an E'' literal, each colon written `\\x3a` (a plain
    literal's backslashes doubled there); anything else as it was."""
    literal = match.group()
    if ":" not in literal or literal.startswith('"'):
        return literal
    if literal[0] in "Ee":
        body = re.sub(
            r"\\.|:",
            lambda m: "\\x3a" if m.group() in (":", "\\:") else m.group(),
            literal[2:-1],
            flags=re.S,
        )
    else:
        body = literal[1:-1].replace("\\", "\\\\").replace(":", "\\x3a")
    return f"E'{body}'"


def pgbench_text(statement: str) -> str:
    """The statement with the colons of its string literals written as escapes: the same
    statement to PostgreSQL, and one in which pgbench finds no variable."""
    # pgbench does not lex SQL: under -M prepared every `:name` is a parameter, in literals too.
    return _QUOTED.sub(_escape_colons, statement)


def pgbench_variables(script: str) -> set[str]:
    """The names pgbench reads as its variables in a script's statement."""
    return set(_PGBENCH_VARIABLE.findall(script))


def _scripts(statements: dict[str, Any], cursor: str, stand_in: int, variable: str) -> Any:
    """The statements as pgbench scripts: parameters inlined, literals made safe for
    pgbench, the stand-in job id made the variable."""
    client = psycopg.ClientCursor(connection.connection)

    def script(statement: Statement) -> str:
        text = pgbench_text(client.mogrify(statement.sql, statement.params))
        text = text.replace(str(stand_in), f":{variable}")
        unexpected = pgbench_variables(text) - {variable}
        if unexpected:
            raise CommandError(f"pgbench would read {sorted(unexpected)} as variables in: {text}")
        return text + ";\n"

    return {
        "lists": {query: script(s) for query, s in statements["lists"].items()},
        "stats": {query: script(s) for query, s in statements["stats"].items()},
        "deep_page": {"cursor": cursor, "script": script(statements["deep_page"])},
        **{name: script(statements[name]) for name in ("detail", "history", "summary")},
    }


class Command(BaseCommand):
    help = "Print the statements of the reads `make bench` measures, as pgbench scripts (JSON)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--list",
            action="append",
            default=[],
            metavar="QUERY",
            help="a list page by its query string, e.g. status=RUNNING, search=etl or "
            "created_after=2026-11-30T00:00:00Z ('' for the first page); repeatable",
        )
        parser.add_argument(
            "--stats",
            action="append",
            default=[],
            metavar="QUERY",
            help="a stats read by its query string, e.g. bucket=hour&since=...; repeatable",
        )
        parser.add_argument(
            "--deep-key", required=True, help="created_at of the job the deep page starts after"
        )
        parser.add_argument("--deep-id", type=int, required=True, help="that job's id")
        parser.add_argument(
            "--job-id-variable",
            default="id",
            help="the pgbench variable that holds the job id of detail and history",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        lists = {query: _list_filters(query) for query in options["list"]}
        stats = {query: _stats_buckets(query) for query in options["stats"]}
        variable = options["job_id_variable"]
        if pgbench_variables(f":{variable}") != {variable}:
            raise CommandError(f"--job-id-variable {variable!r} is no pgbench variable name")
        connection.ensure_connection()
        first, second = (
            _scripts(
                *_reads(lists, stats, options["deep_key"], options["deep_id"], stand_in),
                stand_in,
                variable,
            )
            for stand_in in _STAND_INS
        )
        if first != second:
            raise CommandError("a statement holds the stand-in job id other than as the job id")
        self.stdout.write(json.dumps(first, indent=1))
