"""Accessible: axe-core finds nothing, the keyboard does everything, focus is visible,
status is never colour alone, and a narrow screen needs no sideways scrolling."""

import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Page, expect

from tests.dashboard.conftest import create_jobs, open_create_form, open_dashboard

NARROW = {"width": 375, "height": 800}


def _axe_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    # axe really ran its rules: an empty run would also report no violations.
    assert len(results.response["passes"]) > 10
    return [f"{item['id']}: {item['help']}" for item in results.response["violations"]]


@pytest.mark.parametrize("viewport", [None, NARROW], ids=["wide", "narrow"])
def test_axe_finds_no_violation_with_the_panel_and_a_field_error_shown(
    page, api, unique_name, viewport
):
    (job,) = create_jobs(api, [unique_name("axe")])
    if viewport:
        page.set_viewport_size(viewport)
    open_dashboard(page, job=job["id"])
    expect(page.locator("#history li")).to_have_count(1)
    # The current status's button, marked and disabled, is part of what axe checks.
    expect(page.locator('#append-buttons [aria-current="true"]')).to_be_disabled()
    open_create_form(page)
    page.get_by_role("button", name="Create job").click()
    expect(page.locator("#create-name-error")).to_be_visible()

    assert _axe_violations(page) == []


@pytest.mark.parametrize("viewport", [None, NARROW], ids=["wide", "narrow"])
def test_axe_finds_no_violation_with_the_time_window_and_a_range_error(page, viewport):
    if viewport:
        page.set_viewport_size(viewport)
    open_dashboard(page, window="24h", window_on="created")
    page.get_by_label("Time window").select_option("custom")
    page.get_by_label("From (UTC)").fill("2026-01-10T09:00")
    page.get_by_label("To (UTC)").fill("2026-01-10T08:00")
    page.get_by_role("button", name="Apply range").click()
    expect(page.locator("#window-error")).to_be_visible()

    assert _axe_violations(page) == []


@pytest.mark.parametrize("viewport", [None, NARROW], ids=["wide", "narrow"])
def test_axe_finds_no_violation_in_the_chart_and_its_table(page, api, unique_name, viewport):
    (job,) = create_jobs(api, [unique_name("axe-chart")])
    api.patch(f"/api/jobs/{job['id']}/", json={"status_type": "FAILED"})
    if viewport:
        page.set_viewport_size(viewport)
    open_dashboard(page)
    if viewport:  # folded on a narrow screen: opened, so axe sees the plot too
        page.get_by_role("button", name="Chart", exact=True).click()
    expect(page.locator("#chart-plot canvas")).to_be_visible()
    expect(page.locator("#chart-table tbody tr")).not_to_have_count(0)

    assert _axe_violations(page) == []


def test_axe_finds_no_violation_in_the_delete_dialog(page, api, unique_name):
    (job,) = create_jobs(api, [unique_name("axe-dialog")])
    open_dashboard(page, search=job["name"], job=job["id"])
    page.get_by_role("button", name="Delete job").click()
    expect(page.locator("#confirm-delete")).to_be_visible()

    assert _axe_violations(page) == []


def _tab_to(page: Page, selector: str, limit: int = 60) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"Tab never reached {selector}")


def test_the_keyboard_alone_creates_opens_changes_and_closes(page, api, unique_name):
    name = unique_name("keyboard")
    open_dashboard(page, search=name)

    _tab_to(page, "#new-job")
    page.keyboard.press("Enter")
    expect(page.locator("#create-name")).to_be_focused()
    page.keyboard.type(name)
    page.keyboard.press("Enter")
    expect(page.locator("#create-message")).to_have_text(re.compile("Created"))

    _tab_to(page, "#jobs-body .open-job")
    page.keyboard.press("Enter")
    expect(page.locator("#panel-heading")).to_be_focused()
    _tab_to(page, '#append-buttons button[data-status="RUNNING"]')
    page.keyboard.press("Enter")
    expect(page.locator("#panel .facts")).to_contain_text("Running")
    page.keyboard.press("Escape")

    expect(page.locator("#panel")).to_be_hidden()
    # Focus goes back to where the panel was opened from, not to the top of the page.
    expect(page.locator("#jobs-body .open-job", has_text=name)).to_be_focused()
    (job,) = api.get("/api/jobs/", params={"search": name}).json()["results"]
    assert job["current_status_type"] == "RUNNING"


def test_keyboard_focus_is_visible_on_every_kind_of_control(page):
    open_dashboard(page)
    for selector in ["#new-job", "#tiles .tile", "#search", "th button.sort", "#page-size"]:
        _tab_to(page, selector)
        outline = page.evaluate(
            "(() => { const s = getComputedStyle(document.activeElement);"
            " return [s.outlineStyle, parseFloat(s.outlineWidth)]; })()"
        )
        assert outline[0] != "none" and outline[1] >= 2, (selector, outline)


def test_every_status_badge_says_its_status_in_words(page, api, unique_name):
    jobs = create_jobs(api, [unique_name(f"badge-{n}") for n in range(4)])
    for job, status in zip(jobs[1:], ["RUNNING", "COMPLETED", "FAILED"], strict=True):
        api.patch(f"/api/jobs/{job['id']}/", json={"status_type": status})
    open_dashboard(page, search=jobs[0]["name"].rsplit("-", 2)[0])

    # Newest first: the word ends each badge, after its symbol.
    words = ["Failed", "Completed", "Running", "Pending"]
    expect(page.locator("#jobs-body .badge")).to_have_text(
        [re.compile(rf"{word}$") for word in words]
    )
    # The symbol beside the word is decoration, hidden from screen readers.
    symbols = page.locator("#jobs-body .badge .badge-symbol")
    expect(symbols).to_have_count(len(words))
    for symbol in symbols.all():
        expect(symbol).to_have_attribute("aria-hidden", "true")


def test_a_narrow_screen_shows_rows_as_cards_without_sideways_scrolling(page, api, unique_name):
    (job,) = create_jobs(api, [unique_name("narrow")])
    page.set_viewport_size(NARROW)
    open_dashboard(page, job=job["id"])
    expect(page.locator("#history li")).to_have_count(1)

    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]
    row = page.locator("#jobs-body tr").first
    assert row.evaluate("row => getComputedStyle(row).display") == "block"
    label = row.locator("td[data-label=Status]").evaluate(
        "cell => getComputedStyle(cell, '::before').content"
    )
    assert label == '"Status"'


def test_a_poll_that_redraws_the_table_keeps_keyboard_focus(page, api, unique_name):
    (first,) = create_jobs(api, [unique_name("focus-1")])
    open_dashboard(page, search=first["name"].rsplit("-", 1)[0])
    _tab_to(page, "#jobs-body .open-job")

    create_jobs(api, [unique_name("focus-2")])

    expect(page.locator("#jobs-body tr")).to_have_count(2)
    expect(page.locator("#jobs-body .open-job", has_text=first["name"])).to_be_focused()
