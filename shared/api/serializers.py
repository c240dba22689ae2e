from collections.abc import Mapping
from typing import Any

from rest_framework import serializers

from shared.domain.models import Job, JobStatus

# What an unknown query parameter gets, from a view that takes none (shared/api/views.py) as
# from one that takes some (the query service's filter serializers).
UNKNOWN_QUERY_PARAMETER = "Unknown query parameter."


class StrictSerializer(serializers.Serializer):
    """A serializer that rejects fields it does not know.

    A typo such as ``status`` for ``status_type`` must be a 400, not a silent no-op. The
    unknown names are reported together with every other error of the same input.
    """

    unknown_field_message = "Unknown field."

    def to_internal_value(self, data: Any) -> Any:
        unknown = sorted(set(data) - set(self.fields)) if isinstance(data, Mapping) else []
        errors: dict[str, Any] = {}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if not isinstance(exc.detail, Mapping):
                raise
            errors.update(exc.detail)
        errors.update({name: [self.unknown_field_message] for name in unknown})
        if errors:
            raise serializers.ValidationError(errors)
        return value


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details, as every error leaves the API. Used for the OpenAPI description."""

    type = serializers.URLField()
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(required=False)
    request_id = serializers.CharField(required=False)

    def get_fields(self) -> dict[str, serializers.Field]:
        # Declared here, not as a class attribute, which would hide Serializer.errors.
        fields = super().get_fields()
        fields["errors"] = serializers.DictField(
            child=serializers.ListField(child=serializers.CharField()),
            required=False,
            help_text="Messages per field (validation errors only).",
        )
        return fields


class JobOutputSerializer(serializers.ModelSerializer):
    """A job as both services return it: the contract's Job shape."""

    class Meta:
        model = Job
        ref_name = "Job"
        fields = [
            "id",
            "name",
            "current_status_type",
            "current_status_timestamp",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields


class JobStatusOutputSerializer(serializers.ModelSerializer):
    """One status event of a job's history, with how long the job stayed in it."""

    duration_seconds = serializers.FloatField(
        read_only=True,
        allow_null=True,
        help_text=(
            "How long the job stayed in this status: seconds from this event to the job's "
            "next one, to the microsecond; null for the job's current status."
        ),
    )

    class Meta:
        model = JobStatus
        ref_name = "JobStatus"
        fields = ["id", "status_type", "timestamp", "duration_seconds"]
        read_only_fields = fields


# DRF builds a ModelSerializer's fields anew for every instance: a third of a millisecond
# per job written, for six fields that never change. One instance, whose fields are built
# once, renders every job; to_representation reads its fields and writes nothing, so it is
# safe to share between threads.
_JOB_OUTPUT = JobOutputSerializer()
_JOB_OUTPUT.fields  # noqa: B018 (built now, at import, not by two threads at once)


def job_data(job: Job) -> dict[str, Any]:
    """A job in the contract's Job shape, as JobOutputSerializer(job).data gives it."""
    return _JOB_OUTPUT.to_representation(job)
