"""The primary database stopped on a stack with a standby: the dashboard keeps showing the
jobs from the standby, says it is read-only (not a lost connection), and offers no change
until the primary is back; then creating a job works again. A stack of its own
(tests/replicated_stack.py), since stopping the test stack's primary would fail every
other test."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Locator, Page, expect

from stack.system import System
from tests.dashboard.conftest import (
    await_requests,
    browser_tab,
    create_jobs,
    is_summary_request,
    open_create_form,
    open_dashboard,
)
from tests.replicated_stack import replicated_stack

READ_ONLY = re.compile(r"^Read-only: the jobs database is taking no changes right now\.")
# The instances measure the primary once a second; the page polls every half second.
MODE_WAIT_MS = 5_000


@pytest.fixture(scope="module")
def standby_stack(system: System) -> Iterator[System]:
    with replicated_stack(system.config, port_offset=80) as stack:
        yield stack


@pytest.fixture
def stack_api(standby_stack: System) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=standby_stack.config.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def stack_page(browser: Browser, standby_stack: System) -> Iterator[Page]:
    """A tab on the standby stack's gateway (the page fixture's, for another origin)."""
    with browser_tab(browser, standby_stack.config.gateway_url) as tab:
        yield tab


def _write_controls(page: Page) -> list[Locator]:
    return [
        page.get_by_role("button", name="Create job"),
        # The current status's button is disabled anyway (test_navigation.py).
        *page.locator("#append-buttons button:not([aria-current])").all(),
        page.locator("#delete-job"),
    ]


# Every text the status line shows, in order, read back after the fact: a "Connection
# problem" shown for a moment between two polls cannot be missed.
RECORD_STATUS_TEXTS = """
window.__statusTexts = [];
document.addEventListener("DOMContentLoaded", () => {
  const status = document.getElementById("connection");
  new MutationObserver(() => window.__statusTexts.push(status.textContent)).observe(
    status, { childList: true, characterData: true, subtree: true });
});
"""


def test_with_the_primary_stopped_the_page_is_read_only_and_writes_again_once_it_is_back(
    stack_page, stack_api, standby_stack, unique_name
):
    jobs = create_jobs(stack_api, [unique_name("ro-1"), unique_name("ro-2")])
    stack_page.add_init_script(RECORD_STATUS_TEXTS)
    page = open_dashboard(stack_page, job=jobs[0]["id"])
    names = page.locator("#jobs-body .open-job")
    expect(names.first).to_have_text(jobs[1]["name"])
    expect(page.locator("#connection")).to_have_text("")
    typed = unique_name("typed-while-read-only")
    open_create_form(page)

    standby_stack.postgres.stop()
    try:
        expect(page.locator("#connection")).to_have_text(READ_ONLY, timeout=MODE_WAIT_MS)
        expect(page.locator("body")).not_to_have_class(re.compile(r"\boffline\b"))
        expect(names).to_contain_text([jobs[1]["name"], jobs[0]["name"]])
        for control in _write_controls(page):
            expect(control).to_be_disabled()
            expect(control).to_have_attribute("aria-describedby", "connection")
        # The controls still take focus and say why; a submit keeps what was typed.
        page.get_by_label("Name", exact=True).fill(typed)
        page.get_by_label("Name", exact=True).press("Enter")
        expect(page.locator("#create-message")).to_have_text(re.compile(r"^Not saved: .*read-only"))
        expect(page.get_by_label("Name", exact=True)).to_have_value(typed)
        assert _axe_violations(page) == []
    finally:
        standby_stack.postgres.start()

    expect(page.locator("#connection")).to_have_text("")
    shown = page.evaluate("window.__statusTexts")
    assert any(READ_ONLY.match(text) for text in shown), shown  # the recorder saw it
    assert not [text for text in shown if text.startswith("Connection problem")], shown
    for control in _write_controls(page):
        expect(control).to_be_enabled()
    with page.expect_response(lambda r: r.request.method == "POST") as created:
        page.get_by_role("button", name="Create job").click()
    expect(page.locator("#create-message")).to_have_text(re.compile(f"Created “{typed}”"))
    expect(names.filter(has_text=typed)).to_be_visible()
    # Exactly one made: read with the write's token, so the standby has replayed it.
    token = {"Consistency-Token": created.value.headers["consistency-token"]}
    found = stack_api.get("/api/jobs/", params={"search": typed}, headers=token).json()
    assert [job["name"] for job in found["results"]] == [typed]


# The command service's answer while it cannot write, as a stack without standbys' reads
# would leave the page to find out by itself: no Service-Mode header on any read.
REFUSED = {
    "status": 503,
    "headers": {"Content-Type": "application/problem+json", "Retry-After": "1"},
    "body": json.dumps(
        {
            "type": "https://jobs.example/problems/service-unavailable",
            "title": "Service unavailable",
            "status": 503,
            "detail": "The database is unavailable.",
        }
    ),
}


def test_a_write_refused_with_a_503_while_reads_answer_is_read_only_for_a_while(
    page, api, unique_name
):
    (job,) = create_jobs(api, [unique_name("refused")])
    page.clock.install()  # time runs as usual; fast_forward skips over the hold
    open_dashboard(page, job=job["id"])
    page.route(
        lambda url: url.endswith("/api/jobs/"),
        lambda route: (
            route.fulfill(**REFUSED) if route.request.method == "POST" else route.continue_()
        ),
    )
    name = unique_name("kept")
    open_create_form(page)

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create job").click()

    expect(page.locator("#create-message")).to_have_text(re.compile(r"^Not saved: .*read-only"))
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    expect(page.locator("#connection")).to_have_text(READ_ONLY)
    for control in _write_controls(page):
        expect(control).to_be_disabled()
    # Reads go on answering without the header: still read-only, until the hold is over.
    page.unroute_all()
    await_requests(page, is_summary_request, 2)  # a whole poll answered meanwhile
    expect(page.locator("#connection")).to_have_text(READ_ONLY)
    page.clock.fast_forward(30_000)
    expect(page.locator("#connection")).to_have_text("")
    for control in _write_controls(page):
        expect(control).to_be_enabled()
    assert api.get("/api/jobs/", params={"search": name}).json()["results"] == []


def test_a_write_refused_while_the_reads_fail_too_is_a_connection_problem(page, unique_name):
    """The primary away on a stack without standbys: nothing answers, nothing is current,
    so the page says its connection problem as before, not read-only."""
    open_dashboard(page)
    page.route(lambda url: "/api/" in url, lambda route: route.fulfill(**REFUSED))
    expect(page.locator("#connection")).to_have_text(re.compile("^Connection problem"))
    name = unique_name("outage")
    open_create_form(page)

    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Create job").click()

    expect(page.locator("#create-message")).to_have_text("The database is unavailable.")
    expect(page.get_by_label("Name", exact=True)).to_have_value(name)
    expect(page.locator("#connection")).to_have_text(re.compile("^Connection problem"))
    for control in _write_controls(page):
        expect(control).to_be_enabled()


def _axe_violations(page: Page) -> list[str]:
    results = Axe().run(page)
    assert len(results.response["passes"]) > 10
    return [f"{item['id']}: {item['help']}" for item in results.response["violations"]]
