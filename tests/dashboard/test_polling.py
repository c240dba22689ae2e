"""When the dashboard polls, on the page's own clock: Playwright's fake timers stand in for
the seconds, so the default period and a hidden tab are checked in well under a second of
waiting. The network stays real: every request goes through the gateway."""

from playwright.sync_api import Page, Request, expect

from tests.dashboard.conftest import is_summary_request, open_dashboard

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


def _summary_fetch_times(page: Page) -> list[int]:
    fetches = page.evaluate("window.__apiFetches")
    return [item["at"] for item in fetches if item["url"] == "/api/jobs/summary/"]


def _set_hidden(page: Page, hidden: bool) -> None:
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


def test_the_page_polls_every_5_seconds_by_default(page):
    _open_on_a_paused_clock(page, poll=None)
    (loaded_at,) = _summary_fetch_times(page)

    page.clock.run_for(DEFAULT_POLL_MS - 1)
    assert _summary_fetch_times(page) == [loaded_at]
    with page.expect_request(is_summary_request):
        page.clock.run_for(1)

    assert _summary_fetch_times(page) == [loaded_at, loaded_at + DEFAULT_POLL_MS]


def test_a_hidden_tab_sends_no_request_and_polls_again_once_visible(page):
    api_requests: list[str] = []

    def record(request: Request) -> None:
        if "/api/" in request.url:
            api_requests.append(request.url)

    page.on("request", record)
    _open_on_a_paused_clock(page, poll=None)
    fetched = len(page.evaluate("window.__apiFetches"))
    requested = len(api_requests)

    _set_hidden(page, True)
    page.clock.run_for(6 * DEFAULT_POLL_MS)  # six polls' time: every poll timer fires

    assert len(page.evaluate("window.__apiFetches")) == fetched
    with page.expect_request(is_summary_request) as resumed:
        _set_hidden(page, False)  # back in front: polls at once, without waiting 5 s
    # Requests arrive in order: any sent while hidden would come before this one.
    assert api_requests[requested:][0] == resumed.value.url
    expect(page.locator("#connection")).to_have_text("")
