import re
from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from shared.api.serializers import StrictSerializer
from shared.domain.enums import JobStatusType
from shared.domain.models import NAME_MAX_LENGTH

# The name rule, written once. NAME_PATTERN is what the OpenAPI description publishes and
# what JobNameField checks a name against, as sent; the whitespace the pattern allows
# around a name is then trimmed, the same characters. Control characters are Unicode's
# (Cc); whitespace is what str.isspace() calls whitespace, controls aside.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
_SPACE = r" \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
NAME_PATTERN = rf"^[^{_CONTROL}]*[^{_CONTROL}{_SPACE}][^{_CONTROL}]*$"
_NAME = re.compile(NAME_PATTERN)
_CONTROL_CHARACTER = re.compile(rf"[{_CONTROL}]")
_SURROUNDING_SPACE = re.compile(rf"^[{_SPACE}]+|[{_SPACE}]+$")


@extend_schema_field(
    {
        "type": "string",
        "minLength": 1,
        "maxLength": NAME_MAX_LENGTH,
        "pattern": NAME_PATTERN,
        "description": (
            f"1 to {NAME_MAX_LENGTH} characters, no control characters, not only whitespace; "
            "surrounding whitespace is trimmed."
        ),
    }
)
class JobNameField(serializers.CharField):
    """A job name: checked as sent against NAME_PATTERN and NAME_MAX_LENGTH (what the
    OpenAPI description says), then trimmed of the surrounding whitespace the pattern
    allows. A tab or newline around a name is refused like one inside it."""

    default_error_messages = {
        "not_a_string": "Must be a string.",
        "control_characters": "Must not contain control characters.",
    }

    def __init__(self, **kwargs: Any) -> None:
        # Not DRF's trimming (str.strip()): what is trimmed is the pattern's whitespace.
        super().__init__(
            max_length=NAME_MAX_LENGTH, allow_blank=False, trim_whitespace=False, **kwargs
        )

    def to_internal_value(self, data: object) -> str:
        # CharField would turn 42 or true into "42"/"True"; a name must be sent as a string.
        if not isinstance(data, str):
            self.fail("not_a_string")
        if not _NAME.fullmatch(data):
            # The pattern needs one character that is neither control nor whitespace.
            self.fail("control_characters" if _CONTROL_CHARACTER.search(data) else "blank")
        if len(data) > NAME_MAX_LENGTH:
            self.fail("max_length", max_length=NAME_MAX_LENGTH)
        return _SURROUNDING_SPACE.sub("", super().to_internal_value(data))


class JobCreateInputSerializer(StrictSerializer):
    """A new job: its name. Unknown fields are rejected."""

    name = JobNameField()


class JobUpdateInputSerializer(StrictSerializer):
    """The status to append (required) and, optionally, a new name. Unknown fields are rejected."""

    status_type = serializers.ChoiceField(choices=JobStatusType.choices)
    name = JobNameField(required=False)
