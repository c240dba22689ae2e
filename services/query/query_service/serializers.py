import re
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any

from django.core.handlers.wsgi import get_bytes_from_wsgi
from django.http import QueryDict
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers
from rest_framework.request import Request

from query_service.pagination import MAX_OFFSET
from query_service.selectors import DEFAULT_JOB_ORDERING, JOB_ORDERINGS, BucketRange
from query_service.statements import SEARCH_COUNT_LIMIT
from shared.api.serializers import (
    UNKNOWN_QUERY_PARAMETER,
    JobOutputSerializer,
    JobStatusOutputSerializer,
    StrictSerializer,
)
from shared.domain import rollups
from shared.domain.enums import JobStatusType
from shared.domain.models import NAME_MAX_LENGTH

# Keyset pages need a sort key that never changes once a job exists. Published in the
# OpenAPI description as `x-cursor-orderings` of the list's `ordering` (OrderingField).
CURSOR_ORDERINGS = ("-created_at", "created_at", "-id", "id")
DEFAULT_LIMIT = 20
MAX_LIMIT = 100


def query_params_data(query_params: QueryDict, *, multi_valued: tuple[str, ...] = ()) -> dict:
    """Query parameters as one value per name, ready for a filter serializer.

    A parameter given twice is ambiguous (which limit wins?) and is rejected, except the
    multi-valued ones, whose repeats are joined with commas: `status=A&status=B` is `A,B`.
    """
    data: dict[str, str] = {}
    repeated: dict[str, list[str]] = {}
    for name in query_params:
        values = query_params.getlist(name)
        if name in multi_valued:
            data[name] = ",".join(values)
        elif len(values) > 1:
            repeated[name] = ["Give this parameter once."]
        else:
            data[name] = values[0]
    if repeated:
        raise serializers.ValidationError(repeated)
    return data


_STATUS = "|".join(JobStatusType.values)
# One `status` value: one or more names, comma-separated. The list's `status` parameter is
# an array of these (views), so `status=A,B` and `status=A&status=B` both validate.
STATUS_LIST_SCHEMA = {
    "type": "string",
    "pattern": rf"^({_STATUS})(,({_STATUS}))*$",
    "example": "PENDING,RUNNING",
}


@extend_schema_field(STATUS_LIST_SCHEMA)
class StatusListField(serializers.CharField):
    """One or more status names, comma-separated: `RUNNING` or `PENDING,RUNNING`."""

    def to_internal_value(self, data: Any) -> list[str]:  # type: ignore[override]
        text = super().to_internal_value(data)
        statuses = [item.strip() for item in text.split(",")]
        invalid = [item for item in statuses if item not in JobStatusType.values]
        if invalid:
            valid = ", ".join(JobStatusType.values)
            raise serializers.ValidationError(
                [f'"{item}" is not a valid status; use one of {valid}.' for item in invalid]
            )
        return list(dict.fromkeys(statuses))


@extend_schema_field({"type": "string", "maxLength": NAME_MAX_LENGTH, "pattern": r"^[^\x00]+$"})
class SearchField(serializers.CharField):
    """Free text to find in names; NUL is the one character PostgreSQL text cannot hold.

    Empty is allowed too (no search): drf-spectacular describes a blank-allowing field
    with a pattern as oneOf [the pattern, maxLength 0], so the pattern must not match the
    empty string itself, or "" would match both and be described as invalid."""


class OrderingField(serializers.ChoiceField):
    """The list's sort key. Its description also names, machine-readably, the orderings
    cursor pages take (`x-cursor-orderings`): a client that chooses the page mode, such as
    the dashboard, reads them there instead of keeping a copy."""


class OrderingFieldSchema(OpenApiSerializerFieldExtension):
    """drf-spectacular's schema of a ChoiceField, plus `x-cursor-orderings`."""

    target_class = OrderingField

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema = auto_schema._map_serializer_field(self.target, direction, bypass_extensions=True)
        return {**schema, "x-cursor-orderings": list(CURSOR_ORDERINGS)}


class StrictIntegerField(serializers.IntegerField):
    """An integer written as one: DRF's IntegerField also takes "1.0" and " 1"."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not data.isascii() or not data.lstrip("-").isdigit():
            self.fail("invalid")
        return super().to_internal_value(data)


class QueryParamsSerializer(StrictSerializer):
    """A request's query parameters (validated_query_params); unknown ones are refused."""

    # Parameters whose repeats are joined with commas (see query_params_data).
    multi_valued: tuple[str, ...] = ()

    unknown_field_message = UNKNOWN_QUERY_PARAMETER


class PageParamsSerializer(QueryParamsSerializer):
    """limit/offset of any page, or the cursor mode. A limit above the maximum is
    clamped, not refused; an offset beyond MAX_OFFSET is refused, pointing to cursors."""

    limit = StrictIntegerField(
        required=False,
        min_value=1,
        default=DEFAULT_LIMIT,
        help_text=f"Page size, default {DEFAULT_LIMIT}; values above {MAX_LIMIT} give {MAX_LIMIT}.",
    )
    # No `default`: the description would show one, generated clients send defaults, and
    # cursor pages refuse any offset. Offset pages start at 0 without one (validate).
    offset = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=MAX_OFFSET,
        error_messages={
            "max_value": (
                f"Offsets stop at {MAX_OFFSET}. For deeper pages use pagination=cursor "
                "and follow the next links: every page then costs the same."
            )
        },
        help_text=(
            f"Offset pages only: how many items to skip, 0 when not given, at most "
            f"{MAX_OFFSET} (deeper: pagination=cursor). Cursor pages refuse it, even 0."
        ),
    )
    pagination = serializers.ChoiceField(
        choices=["offset", "cursor"],
        required=False,
        default="offset",
        help_text=(
            "`cursor` for keyset pages at any depth (then follow next/previous). A `cursor` "
            "parameter implies `cursor`, whatever this one says."
        ),
    )
    cursor = serializers.CharField(
        required=False,
        max_length=512,
        help_text="An opaque position from a next/previous link (implies pagination=cursor).",
    )

    def validate_limit(self, value: int) -> int:
        return min(value, MAX_LIMIT)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "cursor" in attrs:
            attrs["pagination"] = "cursor"
        if attrs["pagination"] == "cursor":
            if "offset" in self.initial_data:
                raise serializers.ValidationError(
                    {"offset": ["Cursor pages take no offset: follow the next/previous links."]}
                )
        else:
            attrs.setdefault("offset", 0)
        return attrs


# RFC 3339's date-time: a date, a time and an offset (Z or ±hh:mm); without one a time
# names no instant. Fractions beyond microseconds are cut, as PostgreSQL keeps no more.
_RFC3339 = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


@extend_schema_field({"type": "string", "format": "date-time", "pattern": f"^{_RFC3339.pattern}$"})
class InstantField(serializers.DateTimeField):
    """An RFC 3339 date-time with its offset, as an aware datetime."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(input_formats=["iso-8601"], **kwargs)

    def to_internal_value(self, value: Any) -> Any:
        if not isinstance(value, str) or not (match := _RFC3339.fullmatch(value)):
            raise serializers.ValidationError(
                "An RFC 3339 date-time with its offset, e.g. 2026-11-30T14:00:00Z."
            )
        # Django's parser takes neither a lower-case z nor digits past the sixth; both are
        # RFC 3339. A finer instant is rounded up to the microsecond: every stored time
        # (microseconds) is before the given one exactly when it is before the rounded one,
        # and at or after it exactly when at or after the rounded one.
        fraction = match.group(1) or ""
        text = value[: len(value) - len(match.group(2))] + match.group(2).upper()
        if len(fraction) > 7:
            text = text.replace(fraction, fraction[:7], 1)
        instant = super().to_internal_value(text)
        if fraction[7:].strip("0"):
            try:
                instant += timedelta(microseconds=1)
            except OverflowError:
                raise serializers.ValidationError("Past the last instant the API holds.") from None
        return instant


# The list's time windows: (lower bound, inclusive; upper bound, exclusive) of each column.
TIME_WINDOWS = {
    "created": ("created_after", "created_before"),
    "status_changed": ("status_changed_after", "status_changed_before"),
}


def _window_field(column: str, bound: str) -> InstantField:
    what = "creation" if column == "created" else "current status"
    side = "at or after (inclusive)" if bound == "after" else "before (exclusive)"
    return InstantField(
        required=False,
        help_text=f"Jobs whose {what} time is {side} this instant (RFC 3339, with offset).",
    )


class JobListFilterSerializer(PageParamsSerializer):
    """Query parameters of the job list. Unknown parameters are rejected."""

    multi_valued = ("status",)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        attrs = super().validate(attrs)
        for after, before in TIME_WINDOWS.values():
            if after in attrs and before in attrs and attrs[after] >= attrs[before]:
                raise serializers.ValidationError(
                    {before: [f"Must be later than {after}: the window would be empty."]}
                )
        if attrs["pagination"] == "cursor" and attrs["ordering"] not in CURSOR_ORDERINGS:
            raise serializers.ValidationError(
                {
                    "ordering": [
                        "Cursor pages need an order that never changes: "
                        + ", ".join(CURSOR_ORDERINGS)
                        + "."
                    ]
                }
            )
        return attrs

    # Described as a parameter of its own in the view (repeatable, as well as comma-separated).
    status = StatusListField(required=False)
    search = SearchField(
        required=False,
        allow_blank=True,
        max_length=NAME_MAX_LENGTH,
        help_text="Case-insensitive substring of the job's name.",
    )
    created_after = _window_field("created", "after")
    created_before = _window_field("created", "before")
    status_changed_after = _window_field("status_changed", "after")
    status_changed_before = _window_field("status_changed", "before")
    ordering = OrderingField(
        choices=list(JOB_ORDERINGS),
        required=False,
        default=DEFAULT_JOB_ORDERING,
        help_text=(
            "Sort key, `-` for descending; ties are broken by id. Cursor pages take "
            + ", ".join(f"`{ordering}`" for ordering in CURSOR_ORDERINGS)
            + " (`x-cursor-orderings`)."
        ),
    )


class JobPageSerializer(serializers.Serializer):
    """A page of jobs, in the shape of DRF's limit/offset pagination."""

    count = serializers.IntegerField(
        help_text=(
            f"Jobs matching the filters; with a search or a time window, at most "
            f"{SEARCH_COUNT_LIMIT} are counted."
        )
    )
    count_exact = serializers.BooleanField(
        help_text=(
            f"false when `count` is a lower bound (a search or a time window matching over "
            f"{SEARCH_COUNT_LIMIT} jobs)."
        )
    )
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = JobOutputSerializer(many=True)


class JobStatusPageSerializer(serializers.Serializer):
    """A page of a job's status events, newest first."""

    count = serializers.IntegerField()
    count_exact = serializers.BooleanField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = JobStatusOutputSerializer(many=True)


class JobSummarySerializer(serializers.Serializer):
    """How many jobs there are, in all and per current status: the dashboard's tiles."""

    total = serializers.IntegerField()
    by_status = serializers.DictField(
        child=serializers.IntegerField(), help_text="Every status, zero included."
    )


# The most buckets one stats read gives: its cost grows with them.
MAX_STATS_BUCKETS = 1_000
# How far back `since` goes when not given: an hour of minutes, a day of hours, a month of
# days (each well within MAX_STATS_BUCKETS).
DEFAULT_STATS_SPANS = {
    "minute": timedelta(hours=1),
    "hour": timedelta(hours=24),
    "day": timedelta(days=30),
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class StatsParamsSerializer(QueryParamsSerializer):
    """Query parameters of the stats. Unknown parameters are rejected. The range is
    resolved against the clock by `bucket_range`, not here: validated strings are
    remembered, and "now" is not the same twice."""

    since = InstantField(
        required=False,
        help_text=(
            "Start of the range (RFC 3339, with offset), inclusive; widened to the start of "
            "its bucket. Default: before `until` by 1 hour (minute buckets), 24 hours (hour) "
            "or 30 days (day)."
        ),
    )
    until = InstantField(
        required=False,
        help_text=(
            "End of the range (RFC 3339, with offset), exclusive; widened to the end of its "
            "bucket. Default: now."
        ),
    )
    bucket = serializers.ChoiceField(
        choices=list(rollups.BUCKET_SECONDS),
        required=False,
        default="hour",
        help_text=f"Bucket size, aligned to UTC; at most {MAX_STATS_BUCKETS} buckets a read.",
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if "since" in attrs and "until" in attrs and attrs["since"] >= attrs["until"]:
            raise serializers.ValidationError(
                {"until": ["Must be later than since: the range would be empty."]}
            )
        return attrs


def bucket_range(params: dict[str, Any], now: datetime) -> BucketRange:
    """The buckets covering [since, until) of validated stats parameters, `until`
    defaulting to `now` and `since` to DEFAULT_STATS_SPANS before it. ValidationError
    when there would be more than MAX_STATS_BUCKETS or the range leaves the years
    0001-9999 (in UTC)."""
    size = params["bucket"]
    step = timedelta(seconds=rollups.BUCKET_SECONDS[size])
    until = params.get("until", now)
    since = params.get("since")
    if since is not None and since >= until:  # only a default `until` (now) can be this early
        raise serializers.ValidationError(
            {"since": ["Must be earlier than until (now, when not given)."]}
        )
    blamed = "since" if since is not None else "until"
    try:
        if since is None:
            since = until - DEFAULT_STATS_SPANS[size]
        first = _EPOCH + ((since - _EPOCH) // step) * step
    except OverflowError:
        # Without since, its default is what starts too early: until is the one given.
        raise serializers.ValidationError(
            {blamed: ["Too early: buckets start on 0001-01-01 (UTC) at the earliest."]}
        ) from None
    try:
        end = _EPOCH - ((_EPOCH - until) // step) * step  # the ceiling
    except OverflowError:
        end = None
    if end is None:
        raise serializers.ValidationError({"until": ["Too late: buckets end by 9999-12-31 (UTC)."]})
    count = (end - first) // step
    if count > MAX_STATS_BUCKETS:
        raise serializers.ValidationError(
            {
                "bucket": [
                    f"The range holds {count} {size} buckets; at most {MAX_STATS_BUCKETS}: "
                    "narrow since/until or take a larger bucket."
                ]
            }
        )
    return BucketRange(size=size, first=first, count=count)


class StatsEnteredSerializer(serializers.Serializer):
    """Events entering each status in the bucket: every status, zero included."""

    PENDING = serializers.IntegerField()
    RUNNING = serializers.IntegerField()
    COMPLETED = serializers.IntegerField()
    FAILED = serializers.IntegerField()


class StatsRunTimeSerializer(serializers.Serializer):
    count = serializers.IntegerField(
        help_text="Finishes with a RUNNING before them: the run times counted."
    )
    p50_seconds = serializers.FloatField(
        allow_null=True, help_text="Median run time; null without a run time."
    )
    p95_seconds = serializers.FloatField(allow_null=True)
    max_seconds = serializers.FloatField(
        allow_null=True,
        help_text=(
            "The upper bound of the highest histogram bin counted: at or above the longest "
            "run, by at most `run_time_relative_error` of it."
        ),
    )


class StatsFiguresSerializer(serializers.Serializer):
    entered = StatsEnteredSerializer()
    finished = serializers.IntegerField(help_text="COMPLETED and FAILED events.")
    failure_rate = serializers.FloatField(
        allow_null=True, help_text="FAILED / finished; null when nothing finished."
    )
    run_time = StatsRunTimeSerializer(
        help_text="First RUNNING of the job to the finishing event, of the bucket's finishes."
    )


class StatsBucketSerializer(StatsFiguresSerializer):
    start = serializers.DateTimeField(help_text="The bucket holds [start, start + one bucket).")


class JobStatsSerializer(serializers.Serializer):
    """Status analytics per time bucket, read from rollups kept with every write."""

    bucket = serializers.ChoiceField(choices=list(rollups.BUCKET_SECONDS))
    since = serializers.DateTimeField(help_text="Start of the first bucket.")
    until = serializers.DateTimeField(help_text="End of the last bucket (exclusive).")
    run_time_relative_error = serializers.FloatField(
        help_text=(
            "Bound on the percentiles' error relative to the true value (bin width of the "
            "logarithmic histogram); below 1 ms, 1 ms."
        )
    )
    total = StatsFiguresSerializer(help_text="The whole range as one bucket.")
    buckets = StatsBucketSerializer(
        many=True, help_text="Every bucket of the range, empty ones too."
    )


@lru_cache(maxsize=4096)
def _validated(
    serializer_class: type[QueryParamsSerializer], query_string: bytes
) -> dict[str, Any]:
    query = QueryDict(query_string)
    serializer = serializer_class(
        data=query_params_data(query, multi_valued=serializer_class.multi_valued)
    )
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)


def validated_query_params(
    serializer_class: type[QueryParamsSerializer], request: Request
) -> dict[str, Any]:
    """The request's query string validated by a filter serializer, remembered per query
    string (as raw bytes, decoded as Django decodes request.GET).

    Validation is a pure function of the string and costly (DRF copies every field per
    serializer; docs/decisions.md, "Validated query strings are remembered"); dashboards
    ask for the same few query strings again and again. Invalid strings raise every time
    (nothing is remembered); each caller gets its own copy of the dict.
    """
    query_string = get_bytes_from_wsgi(request.META, "QUERY_STRING", "")
    return dict(_validated(serializer_class, query_string))
