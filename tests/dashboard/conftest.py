"""The dashboard in a real headless Chromium (Debian's, driven by Playwright) against the
stack `make test` started: every action goes through the gateway, as a person's would."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from urllib.parse import urlencode

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, Request, expect, sync_playwright

from stack.browser import launch
from stack.system import System

# Every wait has a deadline: what the page shows (expect), every action and every wait for
# an event (the tab's default). Polls come every half second in these tests.
WAIT_MS = 10_000
expect.set_options(timeout=WAIT_MS)
FAST_POLL_MS = 500


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@contextmanager
def browser_tab(browser: Browser, base_url: str) -> Iterator[Page]:
    """A fresh browser tab on a gateway. Any uncaught script error fails the test."""
    context = browser.new_context(base_url=base_url, viewport={"width": 1280, "height": 900})
    context.set_default_timeout(WAIT_MS)
    context.set_default_navigation_timeout(WAIT_MS)
    page = context.new_page()
    script_errors: list[str] = []
    page.on("pageerror", lambda error: script_errors.append(str(error)))
    yield page
    context.close()
    assert script_errors == []


@pytest.fixture
def page(browser: Browser, system: System) -> Iterator[Page]:
    """A fresh browser tab on the test stack's gateway."""
    with browser_tab(browser, system.config.gateway_url) as tab:
        yield tab


@pytest.fixture
def api(system: System) -> Iterator[httpx.Client]:
    """Another client of the same API: the other people who change jobs meanwhile."""
    with httpx.Client(base_url=system.config.gateway_url, timeout=10) as client:
        yield client


@pytest.fixture
def admin_db(system: System) -> Iterator[psycopg.Connection]:
    """The database itself, to give a job event times no request could (hours apart, in
    the past)."""
    with psycopg.connect(system.postgres.admin_url, autocommit=True) as conn:
        yield conn


@pytest.fixture
def unique_name() -> Callable[[str], str]:
    """Names no other test uses, so a search finds exactly this test's jobs."""
    run = uuid.uuid4().hex[:8]
    return lambda label: f"ui-{run}-{label}"


def open_dashboard(page: Page, *, poll: int | None = FAST_POLL_MS, **params: str | int) -> Page:
    """Loads the dashboard with the given address-bar state; waits for tiles and table.
    `poll=None` leaves the page at its own polling period."""
    query = urlencode({**({"poll": poll} if poll is not None else {}), **params})
    page.goto(f"/?{query}")
    expect(page.locator("#tiles")).to_have_attribute("aria-busy", "false")
    expect(page.locator("#page-info")).not_to_have_text("")
    return page


def open_create_form(page: Page) -> None:
    """Unfolds the create form (folded until asked for) with its "New job" button."""
    page.get_by_role("button", name="New job").click()
    expect(page.get_by_label("Name", exact=True)).to_be_focused()


def set_hidden(page: Page, hidden: bool) -> None:
    """The tab goes to the background (or comes back), as the browser tells the page."""
    page.evaluate(
        """hidden => {
          Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
          Object.defineProperty(document, "visibilityState",
            { configurable: true, get: () => (hidden ? "hidden" : "visible") });
          document.dispatchEvent(new Event("visibilitychange"));
        }""",
        hidden,
    )


def create_jobs(api: httpx.Client, names: list[str]) -> list[dict]:
    jobs = []
    for name in names:
        response = api.post("/api/jobs/", json={"name": name})
        assert response.status_code == 201, response.text
        jobs.append(response.json())
    return jobs


def await_requests(
    page: Page, matches: Callable[[Request], bool], count: int, timeout_ms: float = WAIT_MS
) -> None:
    """Waits until the page has sent `count` more requests that match, within one deadline.

    The proof that the page went on after an answer: it sends its next poll only once the
    previous poll has handled every answer. (A request sent before the call is not counted,
    which can only make the wait longer.)"""
    deadline = time.monotonic() + timeout_ms / 1000
    for _ in range(count):
        remaining_ms = max((deadline - time.monotonic()) * 1000, 1)
        page.wait_for_event("request", predicate=matches, timeout=remaining_ms)


def is_summary_request(request: Request) -> bool:
    """Every poll sends it first (and the page after each change it makes)."""
    return request.url.endswith("/api/jobs/summary/")
