"""Read logic: filters, search and order of the list; one job; a job's history."""

import pytest

from query_service import selectors
from shared.problems import ResourceNotFound

pytestmark = pytest.mark.django_db


def names(jobs) -> list[str]:
    return [job.name for job in jobs]


def test_job_list_defaults_to_newest_first(make_job):
    make_job("old", created=0)
    make_job("new", created=10)
    assert names(selectors.job_list()) == ["new", "old"]


def test_job_list_filters_by_any_of_several_current_statuses(make_job):
    make_job("waiting")
    make_job("running", "RUNNING")
    make_job("failed", "RUNNING", "FAILED")
    jobs = selectors.job_list(statuses=["RUNNING", "FAILED"], ordering="name")
    assert names(jobs) == ["failed", "running"]


def test_job_list_search_is_a_case_insensitive_substring_and_escapes_wildcards(make_job):
    make_job("nightly-ETL")
    make_job("etl_hourly")
    make_job("100% done")
    make_job("other")
    assert names(selectors.job_list(search="etl", ordering="name")) == ["etl_hourly", "nightly-ETL"]
    assert names(selectors.job_list(search="%")) == ["100% done"]
    assert names(selectors.job_list(search="l_h")) == ["etl_hourly"]


def test_job_list_breaks_ties_by_id_in_the_direction_of_the_order(make_job):
    first = make_job("same", created=0)
    second = make_job("same", created=0)
    assert [j.pk for j in selectors.job_list(ordering="name")] == [first.pk, second.pk]
    assert [j.pk for j in selectors.job_list(ordering="-name")] == [second.pk, first.pk]
    assert [j.pk for j in selectors.job_list(ordering="-created_at")] == [second.pk, first.pk]


def test_job_get_of_a_missing_job_raises_not_found():
    with pytest.raises(ResourceNotFound, match="Job 5 does not exist"):
        selectors.job_get(job_id=5)


def test_job_status_list_is_newest_first(make_job):
    job = make_job("etl", "RUNNING", "COMPLETED")
    _, events = selectors.job_status_list(job_id=job.pk)
    assert [e.status_type for e in events] == ["COMPLETED", "RUNNING", "PENDING"]


def test_job_status_list_of_a_missing_job_raises_not_found():
    with pytest.raises(ResourceNotFound):
        selectors.job_status_list(job_id=77)
