"""When the dashboard polls, on the page's own clock: Playwright's fake timers stand in for
the seconds, so the default period and a hidden tab are checked in well under a second of
waiting. The network stays real: every request goes through the gateway."""

from playwright.sync_api import Page, Request, expect

from tests.dashboard.conftest import is_summary_request, open_dashboard, set_hidden

DEFAULT_POLL_MS = 5_000

# Each fetch the page starts, with the page's (fake) time: what the page asked for and
# when, read back synchronously, so a request cannot be missed or seen late.
RECORD_FETCHES = """
window.__apiFetches = [];
const realFetch = window.fetch;
window.fetch = function (resource, options) {
  window.__apiFetches.push({ url: String(resource), at: Date.now() });
  return realFetch.call(this, resource, options);
};
"""


def _open_on_a_paused_clock(page: Page, *, poll: int | None, **params: str | int) -> None:
    page.add_init_script(RECORD_FETCHES)
    page.clock.install()
    page.clock.pause_at("2030-01-01T00:00:00Z")  # timers fire only when the test says
    open_dashboard(page, poll=poll, **params)
    # The first poll arms the next one only once all its reads have answered, the chart's
    # last among them at times: before that, the page's clock would run with no timer set.
    expect(page.locator("#chart-heading")).to_contain_text(", per ")


def _summary_fetch_times(page: Page) -> list[int]:
    fetches = page.evaluate("window.__apiFetches")
    return [item["at"] for item in fetches if item["url"] == "/api/jobs/summary/"]


def test_the_page_polls_every_5_seconds_by_default(page):
    _open_on_a_paused_clock(page, poll=None)
    (loaded_at,) = _summary_fetch_times(page)

    page.clock.run_for(DEFAULT_POLL_MS - 1)
    assert _summary_fetch_times(page) == [loaded_at]
    with page.expect_request(is_summary_request):
        page.clock.run_for(1)

    assert _summary_fetch_times(page) == [loaded_at, loaded_at + DEFAULT_POLL_MS]


def test_a_hidden_tab_polls_only_the_summary_and_all_again_once_visible(page):
    """Hidden, the page reads only the summary (mostly a 304), whose FAILED count gives the
    title its count of new failures (test_changes.py); the list, job and history wait."""
    api_requests: list[str] = []

    def record(request: Request) -> None:
        if "/api/" in request.url:
            api_requests.append(request.url)

    page.on("request", record)
    _open_on_a_paused_clock(page, poll=None)
    fetched = len(page.evaluate("window.__apiFetches"))

    set_hidden(page, True)
    with page.expect_request(is_summary_request):
        page.clock.run_for(DEFAULT_POLL_MS)
    page.clock.run_for(5 * DEFAULT_POLL_MS)

    hidden_fetches = [item["url"] for item in page.evaluate("window.__apiFetches")[fetched:]]
    assert hidden_fetches and set(hidden_fetches) == {"/api/jobs/summary/"}, hidden_fetches
    requested = len(api_requests)
    with page.expect_request(lambda request: "/api/jobs/?" in request.url) as resumed:
        set_hidden(page, False)  # back in front: polls everything at once, without waiting 5 s
    assert resumed.value.url in api_requests[requested:]
    expect(page.locator("#connection")).to_have_text("")
