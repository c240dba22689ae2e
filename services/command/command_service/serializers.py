import unicodedata
from typing import Any

from rest_framework import serializers

from shared.enums import JobStatusType
from shared.models import NAME_MAX_LENGTH
from shared.serializers import StrictSerializer


def _reject_control_characters(value: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise serializers.ValidationError("Must not contain control characters.")


class JobNameField(serializers.CharField):
    """A job name: a string, trimmed, 1 to 255 characters, no control characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(
            max_length=NAME_MAX_LENGTH,
            min_length=1,
            allow_blank=False,
            trim_whitespace=True,
            validators=[_reject_control_characters],
            **kwargs,
        )

    def to_internal_value(self, data: object) -> str:
        # CharField would turn 42 or true into "42"/"True"; a name must be sent as a string.
        if not isinstance(data, str):
            raise serializers.ValidationError("Must be a string.")
        return super().to_internal_value(data)


class JobCreateInputSerializer(StrictSerializer):
    """A new job: its name. Unknown fields are rejected."""

    name = JobNameField()


class JobUpdateInputSerializer(StrictSerializer):
    """The status to append (required) and, optionally, a new name. Unknown fields are rejected."""

    status_type = serializers.ChoiceField(choices=JobStatusType.choices)
    name = JobNameField(required=False)
