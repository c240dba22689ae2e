"""Times as a person reads them: relative to now, the exact time (four-digit year, zone) on
hover and for screen readers, how long a job has been running, how long each step lasted.

A job's events are moved to known times in the database, and the page's clock is fixed
(Playwright's `set_fixed_time`: Date says that time, timers still run, so polls go on)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import create_jobs, open_dashboard

# PENDING, then RUNNING, PENDING and RUNNING again; each event's time, oldest first.
STATUSES = ["PENDING", "RUNNING", "PENDING", "RUNNING"]
CREATED = datetime(2026, 1, 10, 8, 0, 0, tzinfo=UTC)
EVENT_TIMES = [
    CREATED,
    CREATED + timedelta(seconds=0.4),  # PENDING lasted under a second
    CREATED + timedelta(seconds=0.4 + 3780),  # RUNNING lasted 1 h 3 min
    CREATED + timedelta(seconds=0.4 + 3780 + 3 * 86400 + 4 * 3600 + 59),  # PENDING: 3 days 4 h
]
RUNNING_SINCE = EVENT_TIMES[-1]  # 13 Jan 2026, 13:03:59.4 UTC
NOW = RUNNING_SINCE + timedelta(hours=2, minutes=14, seconds=30)


@pytest.fixture
def timed_job(api: httpx.Client, admin_db: psycopg.Connection, unique_name) -> dict:
    """A RUNNING job whose four events happened at EVENT_TIMES (the job's own times with
    them, so the data stays what the API would have written)."""
    (job,) = create_jobs(api, [unique_name("times")])
    for status in STATUSES[1:]:
        response = api.patch(f"/api/jobs/{job['id']}/", json={"status_type": status})
        assert response.status_code == 200, response.text
    event_ids = [
        row[0]
        for row in admin_db.execute(
            "SELECT id FROM jobs_jobstatus WHERE job_id = %s ORDER BY id", (job["id"],)
        )
    ]
    assert len(event_ids) == len(EVENT_TIMES)
    with admin_db.transaction():
        # Events are immutable: their guard trigger (and the rollups') stand aside for this
        # arrangement, and the rollups are recounted after it, so later checks hold.
        admin_db.execute("SET LOCAL session_replication_role = replica")
        for event_id, at in zip(event_ids, EVENT_TIMES, strict=True):
            admin_db.execute(
                "UPDATE jobs_jobstatus SET timestamp = %s WHERE id = %s", (at, event_id)
            )
        admin_db.execute("SET LOCAL session_replication_role = origin")
        admin_db.execute("SELECT jobs_rollup_rebuild()")
        admin_db.execute(
            "UPDATE jobs_job SET created_at = %s, updated_at = %s, current_status_timestamp = %s"
            " WHERE id = %s",
            (CREATED, RUNNING_SINCE, RUNNING_SINCE, job["id"]),
        )
    return api.get(f"/api/jobs/{job['id']}/").json()


def _open_at(page: Page, now: datetime, timed: dict, *, panel: bool = False) -> None:
    """The dashboard on `now`, searching for the job (its old creation time puts it far
    down the unfiltered table), with its panel open if asked."""
    page.clock.set_fixed_time(now)
    if panel:
        open_dashboard(page, search=timed["name"], job=timed["id"])
    else:
        open_dashboard(page, search=timed["name"])


def _api_time(at: datetime) -> str:
    """The API's form of a time: microseconds and a Z."""
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_table_times_are_relative_with_the_exact_time_on_hover_and_for_screen_readers(
    page, timed_job
):
    _open_at(page, NOW, timed_job)

    row = page.locator(f'#jobs-body tr[data-job-id="{timed_job["id"]}"]')
    status_time = row.locator("td[data-label='Status time']")
    created = row.locator("td[data-label='Created']")
    expect(status_time.locator(".relative-text")).to_have_text("2 h ago")
    expect(created.locator(".relative-text")).to_have_text("3 days ago")
    # Hover: the title. Screen readers: the cell's name says the relative and exact time.
    expect(status_time.locator("time")).to_have_attribute("title", "13 Jan 2026, 13:03:59 UTC")
    expect(status_time.locator("time")).to_have_attribute("datetime", _api_time(RUNNING_SINCE))
    expect(status_time).to_have_accessible_name("2 h ago (13 Jan 2026, 13:03:59 UTC)")
    expect(created.locator("time")).to_have_attribute("title", "10 Jan 2026, 08:00:00 UTC")
    expect(created).to_have_accessible_name("3 days ago (10 Jan 2026, 08:00:00 UTC)")


def test_the_panel_says_how_long_a_running_job_has_been_running(page, timed_job):
    _open_at(page, NOW, timed_job, panel=True)

    facts = page.locator("#panel-facts")
    expect(facts.locator(".elapsed")).to_have_text("running for 2 h 14 min")
    expect(facts).to_contain_text("Running running for 2 h 14 min")
    status_time = facts.locator("time").first
    expect(status_time).to_have_attribute("title", "13 Jan 2026, 13:03:59 UTC")
    # What a screen reader reads of the facts: the exact time after the relative one.
    assert "2 h ago (13 Jan 2026, 13:03:59 UTC)" in facts.aria_snapshot()


def test_the_history_gives_each_step_its_duration_and_the_current_one_so_far(page, timed_job):
    _open_at(page, NOW, timed_job, panel=True)

    steps = page.locator("#history li")
    expect(steps).to_have_count(4)
    # Newest first: the current RUNNING goes on ("so far"); each earlier step lasted until the next.
    expect(steps.locator(".duration, .elapsed")).to_have_text(
        ["2 h 14 min so far", "for 3 days 4 h", "for 1 h 3 min", "for < 1 s"]
    )
    expect(steps.first.locator("time")).to_have_attribute("title", "13 Jan 2026, 13:03:59 UTC")
    expect(steps.last.locator("time")).to_have_attribute("title", "10 Jan 2026, 08:00:00 UTC")
    expect(steps.last.locator(".relative-text")).to_have_text("3 days ago")


def test_relative_times_move_on_with_the_polls_when_nothing_changed(page, timed_job):
    _open_at(page, NOW, timed_job, panel=True)
    expect(page.locator("#panel-facts .elapsed")).to_have_text("running for 2 h 14 min")

    page.clock.set_fixed_time(NOW + timedelta(hours=1, minutes=1))

    # The data is unchanged (each poll a 304): only the words about time move on.
    expect(page.locator("#panel-facts .elapsed")).to_have_text("running for 3 h 15 min")
    row = page.locator(f'#jobs-body tr[data-job-id="{timed_job["id"]}"]')
    expect(row.locator("td[data-label='Status time'] .relative-text")).to_have_text("3 h ago")
    expect(page.locator("#history li .elapsed")).to_have_text("3 h 15 min so far")


def _format(page: Page, function: str, argument: str) -> str:
    return page.evaluate(
        f"([arg, now]) => import('/assets/views.js').then((m) => m.{function}(arg, now))",
        [argument, NOW.timestamp() * 1000],
    )


@pytest.mark.parametrize(
    ("ago", "text"),
    [
        (timedelta(seconds=-30), "just now"),  # a clock a little behind the server's
        (timedelta(seconds=9), "just now"),
        (timedelta(seconds=45), "45 s ago"),
        (timedelta(minutes=3, seconds=59), "3 min ago"),
        (timedelta(hours=23, minutes=59), "23 h ago"),
        (timedelta(hours=30), "yesterday"),
        (timedelta(days=3, hours=2), "3 days ago"),
        (timedelta(days=30), "30 days ago"),
        (timedelta(days=31, hours=3), "13 Dec 2025"),
    ],
)
def test_the_relative_scheme_uses_the_largest_whole_unit(page, ago, text):
    open_dashboard(page)
    assert _format(page, "formatRelative", _api_time(NOW - ago)) == text


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.000007, "< 1 s"),
        (1, "1 s"),
        (59.9, "59 s"),
        (125, "2 min 5 s"),
        (120, "2 min"),
        (3780.4, "1 h 3 min"),
        (7200, "2 h"),
        (86400, "1 day"),
        (3 * 86400 + 4 * 3600 + 59, "3 days 4 h"),
    ],
)
def test_durations_give_their_two_largest_units(page, seconds, text):
    open_dashboard(page)
    assert (
        page.evaluate("(s) => import('/assets/views.js').then((m) => m.formatDuration(s))", seconds)
        == text
    )
