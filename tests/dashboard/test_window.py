"""The time window: presets that slide with now, on status or creation time, a custom range
in UTC, "Recent failures" in one click, all of it in the address bar.

Jobs are moved back in time in the database (as in test_times.py), so a window can leave
them out."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import psycopg
from playwright.sync_api import Page, Request, expect

from tests.dashboard.conftest import await_requests, create_jobs, open_dashboard


def _move(admin_db: psycopg.Connection, job: dict, *, created: datetime, status: datetime):
    """The job as if created and last changed at these times."""
    admin_db.execute(
        "UPDATE jobs_job SET created_at = %s, current_status_timestamp = %s, updated_at = %s"
        " WHERE id = %s",
        (created, status, max(created, status), job["id"]),
    )


def _list_requests(page: Page) -> list[dict[str, list[str]]]:
    """The query of every list read the page sends from now on."""
    sent: list[dict[str, list[str]]] = []

    def record(request: Request) -> None:
        if "/api/jobs/?" in request.url:
            sent.append(parse_qs(urlsplit(request.url).query))

    page.on("request", record)
    return sent


def _names(page: Page):
    return page.locator("#jobs-body .open-job")


def _instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_a_preset_sends_a_lower_bound_that_slides_with_now(page, api, unique_name):
    (job,) = create_jobs(api, [unique_name("preset")])
    open_dashboard(page, search=job["name"])
    sent = _list_requests(page)

    page.get_by_label("Time window").select_option("1h")

    expect(page).to_have_url(re.compile(r"[?&]window=1h&window_on=status(&|$)"))
    await_requests(page, lambda request: "/api/jobs/?" in request.url, 2)
    windowed = [query for query in sent if "status_changed_after" in query]
    assert len(windowed) >= 2, sent
    first, last = (
        _instant(query["status_changed_after"][0]) for query in (windowed[0], windowed[-1])
    )
    assert abs(datetime.now(UTC) - timedelta(hours=1) - first) < timedelta(minutes=1)
    assert last > first  # each poll moves the bound on: the window slides
    assert not [query for query in windowed if "created_after" in query]
    assert windowed[-1]["search"] == [job["name"]]
    expect(_names(page)).to_have_text([job["name"]])

    page.get_by_label("Window on").select_option("created")
    expect(page).to_have_url(re.compile(r"[?&]window=1h&window_on=created(&|$)"))
    await_requests(page, lambda request: "created_after" in request.url, 1)


def test_jobs_outside_the_window_are_not_listed(page, api, admin_db, unique_name):
    now = datetime.now(UTC)
    recent, two_hours, old_but_changed = create_jobs(
        api, [unique_name(f"outside-{label}") for label in ("recent", "2h", "old")]
    )
    _move(admin_db, two_hours, created=now - timedelta(hours=2), status=now - timedelta(hours=2))
    _move(admin_db, old_but_changed, created=now - timedelta(days=3), status=now)
    open_dashboard(page, search=recent["name"].rsplit("-", 1)[0])
    expect(_names(page)).to_have_count(3)
    window = page.get_by_label("Time window")
    window_on = page.get_by_label("Window on")

    window.select_option("1h")
    expect(_names(page)).to_have_text([recent["name"], old_but_changed["name"]])
    window.select_option("24h")
    expect(_names(page)).to_have_text([recent["name"], two_hours["name"], old_but_changed["name"]])
    window_on.select_option("created")
    expect(_names(page)).to_have_text([recent["name"], two_hours["name"]])
    window.select_option("15m")
    expect(_names(page)).to_have_text([recent["name"]])
    window.select_option("7d")
    expect(_names(page)).to_have_count(3)
    # Combined with the status filter and the tiles.
    page.locator('#tiles .tile[data-status="FAILED"]').click()
    expect(page.locator("#empty")).to_be_visible()


def test_recent_failures_are_one_click_away(page, api, admin_db, unique_name):
    now = datetime.now(UTC)
    failed_now, failed_before, running = create_jobs(
        api, [unique_name(f"recent-{label}") for label in ("failed", "failed-2d", "running")]
    )
    api.patch(f"/api/jobs/{failed_now['id']}/", json={"status_type": "FAILED"})
    api.patch(f"/api/jobs/{failed_before['id']}/", json={"status_type": "FAILED"})
    api.patch(f"/api/jobs/{running['id']}/", json={"status_type": "RUNNING"})
    _move(admin_db, failed_before, created=now - timedelta(days=2), status=now - timedelta(days=2))
    open_dashboard(page)
    sent = _list_requests(page)

    page.get_by_role("button", name="Recent failures").click()

    expect(page).to_have_url(
        re.compile(
            r"status=FAILED.*ordering=-current_status_timestamp.*window=24h&window_on=status"
        )
    )
    expect(page.locator("#filter-failed")).to_be_checked()
    expect(page.get_by_label("Time window")).to_have_value("24h")
    expect(page.locator("th[data-ordering=current_status_timestamp]")).to_have_attribute(
        "aria-sort", "descending"
    )
    # Newest failure first: this test's, failed a moment ago.
    expect(_names(page).first).to_have_text(failed_now["name"])
    query = next(query for query in sent if "status_changed_after" in query)
    assert query["status"] == ["FAILED"] and query["ordering"] == ["-current_status_timestamp"]
    page.get_by_label("Search names").fill(failed_now["name"].rsplit("-", 1)[0])
    expect(_names(page)).to_have_text([failed_now["name"]])


def test_a_custom_range_is_read_as_utc_and_survives_a_reload(page, api, admin_db, unique_name):
    inside, after = create_jobs(api, [unique_name("range-in"), unique_name("range-after")])
    _move(
        admin_db,
        inside,
        created=datetime(2026, 1, 10, 8, tzinfo=UTC),
        status=datetime(2026, 1, 10, 8, tzinfo=UTC),
    )
    _move(
        admin_db,
        after,
        created=datetime(2026, 1, 10, 9, tzinfo=UTC),
        status=datetime(2026, 1, 10, 9, tzinfo=UTC),
    )
    open_dashboard(page, search=inside["name"].rsplit("-", 2)[0])
    expect(_names(page)).to_have_count(2)
    sent = _list_requests(page)

    page.get_by_label("Time window").select_option("custom")
    expect(page.get_by_label("From (UTC)")).to_be_focused()
    page.get_by_label("From (UTC)").fill("2026-01-10T07:30")
    page.get_by_label("To (UTC)").fill("2026-01-10T09:00")  # exclusive: 09:00 is out
    page.get_by_role("button", name="Apply range").click()

    expect(_names(page)).to_have_text([inside["name"]])
    expect(page).to_have_url(
        re.compile(r"from=2026-01-10T07%3A30%3A00Z&to=2026-01-10T09%3A00%3A00Z")
    )
    query = next(query for query in sent if "status_changed_after" in query)
    assert query["status_changed_after"] == ["2026-01-10T07:30:00Z"]
    assert query["status_changed_before"] == ["2026-01-10T09:00:00Z"]
    expect(page.locator("#jobs-heading")).to_contain_text("10 Jan 2026, 07:30:00 UTC")

    page.reload()

    expect(_names(page)).to_have_text([inside["name"]])
    expect(page.get_by_label("Time window")).to_have_value("custom")
    expect(page.get_by_label("From (UTC)")).to_have_value("2026-01-10T07:30")
    expect(page.get_by_label("To (UTC)")).to_have_value("2026-01-10T09:00")


def test_a_preset_survives_a_reload(page, api, unique_name):
    (job,) = create_jobs(api, [unique_name("reload-window")])
    open_dashboard(page, search=job["name"])
    page.get_by_label("Window on").select_option("created")
    page.get_by_label("Time window").select_option("7d")
    expect(page).to_have_url(re.compile(r"window=7d&window_on=created"))
    sent = _list_requests(page)

    page.reload()

    expect(page.get_by_label("Time window")).to_have_value("7d")
    expect(page.get_by_label("Window on")).to_have_value("created")
    expect(_names(page)).to_have_text([job["name"]])
    assert sent and all("created_after" in query for query in sent), sent


def test_an_end_before_the_start_is_a_form_error_and_is_never_sent(page):
    open_dashboard(page)
    sent = _list_requests(page)
    address = page.url

    page.get_by_label("Time window").select_option("custom")
    page.get_by_label("From (UTC)").fill("2026-01-10T09:00")
    page.get_by_label("To (UTC)").fill("2026-01-10T08:00")
    page.get_by_label("To (UTC)").press("Enter")

    error = page.locator("#window-error")
    expect(error).to_have_text("The end must be after the start.")
    expect(page.get_by_label("To (UTC)")).to_have_attribute("aria-invalid", "true")
    expect(page.get_by_label("To (UTC)")).to_be_focused()
    await_requests(page, lambda request: "/api/jobs/?" in request.url, 2)
    assert not [query for query in sent if "status_changed_after" in query], sent
    assert page.url == address
