from typing import Any

from django.http import QueryDict
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from query_service.selectors import DEFAULT_JOB_ORDERING, JOB_ORDERINGS
from shared.enums import JobStatusType
from shared.serializers import JobOutputSerializer, JobStatusOutputSerializer, StrictSerializer

DEFAULT_LIMIT = 20
MAX_LIMIT = 100
# OFFSET is a bigint in PostgreSQL; anything larger is a 400, not a database error.
MAX_OFFSET = 2**63 - 1


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


@extend_schema_field(
    {"type": "string", "pattern": rf"^({_STATUS})(,({_STATUS}))*$", "example": "PENDING,RUNNING"}
)
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


@extend_schema_field({"type": "string", "maxLength": 255, "pattern": r"^[^\x00]*$"})
class SearchField(serializers.CharField):
    """Free text to find in names; NUL is the one character PostgreSQL text cannot hold."""


class StrictIntegerField(serializers.IntegerField):
    """An integer written as one: DRF's IntegerField also takes "1.0" and " 1"."""

    def to_internal_value(self, data: Any) -> int:
        if not isinstance(data, str) or not data.isascii() or not data.lstrip("-").isdigit():
            self.fail("invalid")
        return super().to_internal_value(data)


class PageParamsSerializer(StrictSerializer):
    """limit/offset of any page. A limit above the maximum is clamped, not refused."""

    unknown_field_message = "Unknown query parameter."

    limit = StrictIntegerField(
        required=False,
        min_value=1,
        default=DEFAULT_LIMIT,
        help_text=f"Page size, default {DEFAULT_LIMIT}; values above {MAX_LIMIT} give {MAX_LIMIT}.",
    )
    offset = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=MAX_OFFSET,
        default=0,
        help_text="How many items to skip.",
    )

    def validate_limit(self, value: int) -> int:
        return min(value, MAX_LIMIT)


class JobListFilterSerializer(PageParamsSerializer):
    """Query parameters of the job list. Unknown parameters are rejected."""

    status = StatusListField(
        required=False,
        help_text="Current status, one or more, comma-separated (e.g. `PENDING,RUNNING`).",
    )
    search = SearchField(
        required=False,
        allow_blank=True,
        max_length=255,
        help_text="Case-insensitive substring of the job's name.",
    )
    ordering = serializers.ChoiceField(
        choices=list(JOB_ORDERINGS),
        required=False,
        default=DEFAULT_JOB_ORDERING,
        help_text="Sort key, `-` for descending; ties are broken by id.",
    )


class JobPageSerializer(serializers.Serializer):
    """A page of jobs, in the shape of DRF's limit/offset pagination."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = JobOutputSerializer(many=True)


class JobStatusPageSerializer(serializers.Serializer):
    """A page of a job's status events, newest first."""

    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = JobStatusOutputSerializer(many=True)
