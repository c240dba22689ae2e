from datetime import UTC, datetime

import pytest
from django.db import connection

from shared.api.etags import (
    if_match_versions,
    if_none_match_hit,
    job_etag,
    job_version_etag,
    job_version_sql,
)
from shared.domain.models import Job

UPDATED = datetime(2026, 11, 28, 18, 30, 23, 601153, tzinfo=UTC)
ETAG = job_etag(Job(pk=42, updated_at=UPDATED))
VERSION = 1795890623601153


def test_a_job_etag_is_strong_and_names_id_and_microsecond_version():
    assert ETAG == '"42-1795890623601153"'


@pytest.mark.django_db
def test_postgresql_computes_the_same_version_as_python():
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {job_version_sql('%s::timestamptz')}", [UPDATED])
        (version,) = cursor.fetchone()
    assert job_version_etag(42, version) == ETAG


def test_a_microsecond_later_is_another_etag():
    later = UPDATED.replace(microsecond=601154)
    assert job_etag(Job(pk=42, updated_at=later)) != ETAG


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (ETAG, True),
        (f'"other", {ETAG}', True),
        ("*", True),
        ('"42-1"', False),
        (f"W/{ETAG}", False),  # If-Match compares strongly
        ("", False),
        ("garbage", False),
    ],
)
def test_if_match(header, expected):
    # The command service's check: the job's current version is among those named.
    versions = if_match_versions(header, 42)
    assert (versions is None or VERSION in versions) is expected


@pytest.mark.parametrize(
    ("header", "expected"), [(ETAG, True), (f"W/{ETAG}", True), ("*", True), ('"x"', False)]
)
def test_if_none_match_compares_weakly(header, expected):
    assert if_none_match_hit(header, ETAG) is expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (ETAG, [1795890623601153]),
        (f'"other", {ETAG}, "42-7"', [1795890623601153, 7]),
        ("*", None),
        ('"41-1795890623601153"', []),  # another job's tag
        (f"W/{ETAG}", []),  # If-Match compares strongly
        ('"42-x"', []),
        ("garbage", []),
        # Strong comparison is character for character: these name no version of job 42.
        ('"42-01795890623601153"', []),
        ('"042-1795890623601153"', []),
        ('"42-\u0661"', []),  # ARABIC-INDIC DIGIT ONE, which int() reads as 1
        ('"42-\u00b2"', []),  # SUPERSCRIPT TWO: a digit to str.isdigit, not to int()
        (f'"42-{2**63}"', []),  # beyond the bigint of a version
        (f'"42-{2**63 - 1}"', [2**63 - 1]),
    ],
)
def test_if_match_versions_are_what_the_sql_check_compares(header, expected):
    assert if_match_versions(header, 42) == expected
