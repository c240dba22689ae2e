import unicodedata
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shared.enums import JobStatusType
from shared.models import NAME_MAX_LENGTH
from shared.serializers import StrictSerializer


def _reject_control_characters(value: str) -> None:
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise serializers.ValidationError("Must not contain control characters.")


# Control characters (Unicode Cc) and the whitespace Python's str.strip() removes.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_SPACE = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NAME_PATTERN = rf"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_LENGTH,
        "pattern": NAME_PATTERN,
        "description": (
            "1 to 255 characters, no control characters, not only whitespace; "
            "surrounding whitespace is trimmed."
        ),
    }
)
class JobNameField(serializers.CharField):
    """A job name: a string of at most 255 characters, no control characters, trimmed,
    not empty once trimmed."""

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
        # Checked as sent, before trimming, as the OpenAPI description's pattern says: a
        # tab or newline around a name is refused like one inside it, not trimmed away.
        _reject_control_characters(data)
        if len(data) > NAME_MAX_LENGTH:
            raise serializers.ValidationError(
                f"Ensure this field has no more than {NAME_MAX_LENGTH} characters."
            )
        return super().to_internal_value(data)


class JobCreateInputSerializer(StrictSerializer):
    """A new job: its name. Unknown fields are rejected."""

    name = JobNameField()


class JobUpdateInputSerializer(StrictSerializer):
    """The status to append (required) and, optionally, a new name. Unknown fields are rejected."""

    status_type = serializers.ChoiceField(choices=JobStatusType.choices)
    name = JobNameField(required=False)
