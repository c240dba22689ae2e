"""Changes are noticed: a row whose status another client changed is highlighted for a
moment, and a hidden tab's title counts the new failures its polls saw."""

import re

from playwright.sync_api import Locator, Page, expect

from tests.dashboard.conftest import create_jobs, open_dashboard, set_hidden

CHANGED = re.compile(r"\bchanged\b")


def _row(page: Page, job: dict) -> Locator:
    return page.locator(f'#jobs-body tr[data-job-id="{job["id"]}"]')


def test_a_row_changed_elsewhere_is_highlighted_for_a_moment(page, api, unique_name):
    changed, unchanged = create_jobs(api, [unique_name("changes-1"), unique_name("changes-2")])
    open_dashboard(page, search=changed["name"].rsplit("-", 1)[0])
    expect(page.locator("#jobs-body tr")).to_have_count(2)
    expect(_row(page, changed)).not_to_have_class(CHANGED)

    api.patch(f"/api/jobs/{changed['id']}/", json={"status_type": "FAILED"})

    expect(_row(page, changed)).to_have_class(CHANGED)
    # Not colour alone: the row says so in words.
    expect(_row(page, changed).locator(".changed-mark")).to_have_text("changed")
    expect(_row(page, unchanged)).not_to_have_class(CHANGED)
    # A few seconds later, through the polls' re-renders, it is an ordinary row again.
    expect(_row(page, changed)).not_to_have_class(CHANGED)
    expect(_row(page, changed).locator(".changed-mark")).to_have_count(0)
    expect(_row(page, changed)).to_contain_text("Failed")


def test_the_highlight_flashes_only_without_reduced_motion(page, api, unique_name):
    animations = {}
    for motion in ("no-preference", "reduce"):
        (job,) = create_jobs(api, [unique_name(f"motion-{motion}")])
        page.emulate_media(reduced_motion=motion)
        open_dashboard(page, search=job["name"])
        expect(_row(page, job)).to_be_visible()
        api.patch(f"/api/jobs/{job['id']}/", json={"status_type": "RUNNING"})
        expect(_row(page, job)).to_have_class(CHANGED)
        animations[motion] = _row(page, job).evaluate("row => getComputedStyle(row).animationName")

    assert animations == {"no-preference": "row-changed", "reduce": "none"}


def test_a_hidden_tab_counts_new_failures_in_its_title(page, api, unique_name):
    jobs = create_jobs(api, [unique_name(f"title-{n}") for n in range(4)])
    open_dashboard(page)
    api.patch(f"/api/jobs/{jobs[0]['id']}/", json={"status_type": "FAILED"})
    failed = api.get("/api/jobs/summary/").json()["by_status"]["FAILED"]
    # Seen while visible: no new failure for the title later.
    expect(page.locator('#tiles .tile[data-status="FAILED"] .tile-count')).to_have_text(
        f"{failed:,}"
    )
    expect(page).to_have_title("Jobs")

    set_hidden(page, True)
    for job in jobs[1:3]:
        api.patch(f"/api/jobs/{job['id']}/", json={"status_type": "FAILED"})
    expect(page).to_have_title("(2) Jobs")
    api.patch(f"/api/jobs/{jobs[3]['id']}/", json={"status_type": "FAILED"})
    expect(page).to_have_title("(3) Jobs")

    set_hidden(page, False)

    expect(page).to_have_title("Jobs")
    expect(page.locator('#tiles .tile[data-status="FAILED"] .tile-count')).to_have_text(
        f"{failed + 3:,}"
    )
