"""Navigation a person expects: each view is a history entry and an address, a job's name
is a link, the created job is one click away, and a panel says what it can about a job."""

import re
from typing import NamedTuple

from playwright.sync_api import Page, expect

from tests.dashboard.conftest import create_jobs, open_create_form, open_dashboard


def _shown(first: int, last: int, total: int) -> str:
    return f"{first:,}\N{EN DASH}{last:,} of {total:,}"


class View(NamedTuple):
    filtered: bool  # by status Pending
    by_name: bool  # sorted by name
    info: str  # the pager's words
    job: dict | None  # the job in the panel


def _expect_view(page: Page, view: View) -> None:
    """What the page shows: the status filter, the sort, the page and the panel."""
    expect(page.locator("#filter-pending")).to_be_checked(checked=view.filtered)
    expect(page.locator("th[data-ordering=name]")).to_have_attribute(
        "aria-sort", "ascending" if view.by_name else "none"
    )
    expect(page.locator("#page-info")).to_have_text(view.info)
    if view.job:
        expect(page.locator("#panel-heading")).to_have_text(view.job["name"])
    else:
        expect(page.locator("#panel")).to_be_hidden()


def _twelve_jobs(api, unique_name) -> tuple[str, list[dict]]:
    jobs = create_jobs(api, [unique_name(f"nav-{n:02d}") for n in range(12)])
    return jobs[0]["name"].rsplit("-", 1)[0], jobs


def test_back_and_forward_walk_filter_sort_page_and_open_job(page, api, unique_name):
    prefix, jobs = _twelve_jobs(api, unique_name)
    open_dashboard(page, search=prefix, limit=10)
    by_name = sorted(jobs, key=lambda job: job["name"])
    views = [
        View(False, False, _shown(1, 10, 12), None),
        View(True, False, _shown(1, 10, 12), None),
        View(True, True, _shown(1, 10, 12), None),
        View(True, True, _shown(11, 12, 12), None),
        View(True, True, _shown(11, 12, 12), by_name[10]),
    ]
    _expect_view(page, views[0])
    page.locator("label[for=filter-pending]").click()
    _expect_view(page, views[1])
    page.locator("th[data-ordering=name]").get_by_role("button").click()
    _expect_view(page, views[2])
    page.get_by_role("button", name="Next").click()
    _expect_view(page, views[3])
    page.locator("#jobs-body .open-job", has_text=by_name[10]["name"]).click()
    _expect_view(page, views[4])

    for view in reversed(views[:-1]):
        page.go_back()
        _expect_view(page, view)
    for view in views[1:]:
        page.go_forward()
        _expect_view(page, view)


def test_a_reload_keeps_filter_sort_page_and_open_job(page, api, unique_name):
    prefix, jobs = _twelve_jobs(api, unique_name)
    open_dashboard(page, search=prefix, limit=10)
    page.locator("label[for=filter-pending]").click()
    page.locator("th[data-ordering=name]").get_by_role("button").click()
    page.get_by_role("button", name="Next").click()
    last = max(jobs, key=lambda job: job["name"])
    page.locator("#jobs-body .open-job", has_text=last["name"]).click()
    expect(page.locator("#panel-heading")).to_have_text(last["name"])

    page.reload()

    _expect_view(page, View(True, True, _shown(11, 12, 12), last))
    by_name = sorted(jobs, key=lambda job: job["name"])
    expect(page.locator("#jobs-body .open-job")).to_have_text([job["name"] for job in by_name[10:]])


def test_a_job_name_is_a_link_to_its_panel_in_place_or_in_a_new_tab(page, api, unique_name):
    (job,) = create_jobs(api, [unique_name("link")])
    open_dashboard(page, search=job["name"])
    link = page.get_by_role("link", name=job["name"])
    href = link.get_attribute("href")
    assert href and re.search(rf"[?&]job={job['id']}(&|$)", href), href
    page.evaluate("window.__samePage = true")

    # Ctrl-click: the browser opens the address in a new tab, which shows the job.
    with page.context.expect_page() as opened:
        link.click(modifiers=["Control"])
    tab = opened.value
    expect(tab.locator("#panel-heading")).to_have_text(job["name"])
    expect(tab.locator("#panel .facts")).to_contain_text(str(job["id"]))
    expect(page.locator("#panel")).to_be_hidden()
    tab.close()

    # A plain click stays on the page (no load), opens the panel and says so in the address.
    link.click()
    expect(page.locator("#panel-heading")).to_have_text(job["name"])
    expect(page).to_have_url(re.compile(rf"[?&]job={job['id']}(&|$)"))
    assert page.evaluate("window.__samePage") is True


def test_the_created_message_links_to_the_new_job_the_filter_hides(page, unique_name):
    name = unique_name("hidden-by-filter")
    open_dashboard(page, status="FAILED")
    open_create_form(page)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create job").click()
    message = page.locator("#create-message")
    expect(message).to_have_text(re.compile(f"Created “{name}”"))
    expect(page.locator("#jobs-body .open-job", has_text=name)).to_have_count(0)

    message.get_by_role("link").click()

    expect(page.locator("#panel-heading")).to_have_text(name)
    expect(page).to_have_url(re.compile(r"[?&]job=\d+"))


def test_the_current_status_is_marked_and_its_button_disabled(page, api, unique_name):
    (job,) = create_jobs(api, [unique_name("current")])
    open_dashboard(page, job=job["id"])
    buttons = page.locator("#append-buttons button")
    pending = buttons.filter(has_text="Pending")
    running = buttons.filter(has_text="Running")
    expect(pending).to_be_disabled()
    expect(pending).to_have_attribute("aria-current", "true")
    expect(pending).to_contain_text("current")
    for other in ("Running", "Completed", "Failed"):
        expect(buttons.filter(has_text=other)).to_be_enabled()
        expect(buttons.filter(has_text=other)).not_to_have_attribute("aria-current", "true")

    running.click()

    expect(running).to_be_disabled()
    expect(running).to_have_attribute("aria-current", "true")
    expect(pending).to_be_enabled()
    expect(pending).not_to_contain_text("current")
    events = api.get(f"/api/jobs/{job['id']}/statuses/").json()["results"]
    assert [event["status_type"] for event in events] == ["RUNNING", "PENDING"]


def test_a_job_id_that_never_existed_says_not_found_not_deleted(page, api, unique_name):
    (newest,) = create_jobs(api, [unique_name("newest")])
    never_issued = newest["id"] + 1_000_000
    assert api.get(f"/api/jobs/{never_issued}/").status_code == 404

    open_dashboard(page, job=never_issued)

    error = page.locator("#panel-error")
    expect(error).to_have_text(f"Job {never_issued} was not found: there is no job with this id.")
    for button in page.locator("#append-buttons button, #delete-job").all():
        expect(button).to_be_disabled()
    expect(page.locator("#connection")).to_have_text("")
