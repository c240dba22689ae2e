"""The chart of a time window (dashboard/assets/chart.js): jobs entering each status per
bucket and the failure rate, from GET /api/jobs/stats/, kept current by the page's
conditional polls, with its totals in words and its figures in a table."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.sync_api import Page, Request, ViewportSize, expect

from tests.dashboard.conftest import await_requests, create_jobs, open_dashboard

STATUSES = ["PENDING", "RUNNING", "COMPLETED", "FAILED"]
PHONE: ViewportSize = {"width": 390, "height": 844}
WIDE: ViewportSize = {"width": 1440, "height": 900}


def is_stats_request(request: Request) -> bool:
    return "/api/jobs/stats/?" in request.url


def stats_params(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def instant(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def totals_text(total: dict) -> str:
    """The start of what the page writes for a window's totals: new, finished, % failed."""
    text = f"{total['entered']['PENDING']:,} new, {total['finished']:,} finished"
    if total["failure_rate"] is not None:
        text += f", {round(total['failure_rate'] * 100)}% failed"
    return text


def test_the_chart_draws_the_last_24_hours_by_hour_from_the_stats_endpoint(page: Page):
    with page.expect_response(lambda response: is_stats_request(response.request)) as answer:
        open_dashboard(page)
    response = answer.value
    params = stats_params(response.url)
    now = datetime.now(UTC)

    assert params["bucket"] == "hour"
    # The last 24 hours, on the hour (the path then stays the same, poll after poll,
    # until the next hour begins).
    slack = timedelta(seconds=30)
    assert timedelta(hours=24) - slack <= now - instant(params["since"]) <= timedelta(hours=25)
    assert -slack <= instant(params["until"]) - now <= timedelta(hours=1)
    assert instant(params["since"]).minute == instant(params["until"]).minute == 0
    figure = page.locator("#chart-figure")
    expect(figure).to_have_attribute("data-buckets", str(len(response.json()["buckets"])))
    expect(page.locator("#chart-heading")).to_have_text("Last 24 h, per hour")
    canvas = page.locator("#chart-plot canvas")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] >= 60
    # Something was drawn on it: not every pixel is transparent.
    assert canvas.evaluate(
        "c => c.getContext('2d').getImageData(0, 0, c.width, c.height).data.some(v => v !== 0)"
    )


def test_the_totals_follow_jobs_created_and_failed_meanwhile(
    page: Page, api: httpx.Client, unique_name
):
    now = datetime.now(UTC)
    with page.expect_request(is_stats_request) as first:
        open_dashboard(
            page,
            window_on="created",
            created_after=(now - timedelta(hours=1)).isoformat(timespec="seconds"),
            created_before=(now + timedelta(hours=1)).isoformat(timespec="seconds"),
        )
    path = urlsplit(first.value.url)
    # Two hours: by the minute, with exactly the bounds the address bar gave.
    assert stats_params(first.value.url)["bucket"] == "minute"
    before = api.get(f"{path.path}?{path.query}").json()["total"]
    expect(page.locator("#chart-totals")).to_contain_text(totals_text(before))

    jobs = create_jobs(api, [unique_name(f"chart-{n}") for n in range(3)])
    api.patch(f"/api/jobs/{jobs[0]['id']}/", json={"status_type": "RUNNING"})
    for job in jobs[:2]:
        api.patch(f"/api/jobs/{job['id']}/", json={"status_type": "FAILED"})

    after = api.get(f"{path.path}?{path.query}").json()["total"]
    assert after["entered"]["PENDING"] == before["entered"]["PENDING"] + 3
    assert after["entered"]["FAILED"] == before["entered"]["FAILED"] + 2
    # Without a reload: the next poll brings them.
    expect(page.locator("#chart-totals")).to_contain_text(totals_text(after))
    # A run time exists now (RUNNING, then FAILED): its median and 95th percentile.
    expect(page.locator("#chart-totals")).to_contain_text(re.compile(r"run time p50 .+, p95 .+"))


def test_a_poll_answered_304_draws_nothing(page: Page, api: httpx.Client, unique_name):
    statuses: list[int] = []
    page.on(
        "response",
        lambda response: (
            statuses.append(response.status) if is_stats_request(response.request) else None
        ),
    )
    open_dashboard(page)
    figure = page.locator("#chart-figure")
    expect(figure).to_have_attribute("data-draws", re.compile(r"^[1-9]"))
    # The next poll left: the first one's answer is drawn.
    await_requests(page, is_stats_request, 1)
    drawn = figure.get_attribute("data-draws")
    answered = len(statuses)

    # Two polls more, each handled before the next left: nothing changed, both 304.
    await_requests(page, is_stats_request, 3)
    assert statuses[answered : answered + 2] == [304, 304]
    assert figure.get_attribute("data-draws") == drawn

    # And a change is drawn at the next poll (the count does count draws).
    create_jobs(api, [unique_name("chart-redraw")])
    expect(figure).not_to_have_attribute("data-draws", drawn)


@pytest.mark.parametrize(
    ("preset", "bucket", "span", "heading"),
    [
        ("15m", "minute", timedelta(minutes=15), "Last 15 min, per minute"),
        ("1h", "minute", timedelta(hours=1), "Last hour, per minute"),
        ("24h", "hour", timedelta(hours=24), "Last 24 h, per hour"),
        ("7d", "hour", timedelta(days=7), "Last 7 days, per hour"),
    ],
)
def test_a_preset_window_in_the_address_bar_picks_its_bucket(
    page: Page, preset: str, bucket: str, span: timedelta, heading: str
):
    before = datetime.now(UTC)
    with page.expect_request(is_stats_request) as sent:
        open_dashboard(page, window=preset)
    after = datetime.now(UTC)
    params = stats_params(sent.value.url)

    assert params["bucket"] == bucket
    # From the start of the bucket `span` ago to the end of the current one.
    step = timedelta(minutes=1) if bucket == "minute" else timedelta(hours=1)
    assert before - span - step <= instant(params["since"]) <= after - span
    assert before <= instant(params["until"]) <= after + step
    expect(page.locator("#chart-heading")).to_have_text(heading)


def test_the_window_control_moves_the_chart_through_the_modules_function(page: Page):
    # Polls a minute apart: the requests below are setChartWindow's own, made at once.
    open_dashboard(page, poll=60_000)
    expect(page.locator("#chart-figure")).to_have_attribute("data-buckets", re.compile(r"\d"))

    with page.expect_request(is_stats_request) as sent:
        page.evaluate("import('/assets/chart.js').then((chart) => chart.setChartWindow('7d'))")
    assert stats_params(sent.value.url)["bucket"] == "hour"
    expect(page.locator("#chart-heading")).to_have_text("Last 7 days, per hour")

    # Ninety days: by the day; the bounds are the ones given, widened to whole days.
    with page.expect_request(is_stats_request) as sent:
        page.evaluate(
            "import('/assets/chart.js').then((chart) => chart.setChartWindow("
            "{since: '2026-01-01T10:00:00Z', until: '2026-04-01T10:00:00Z'}))"
        )
    assert stats_params(sent.value.url) == {
        "since": "2026-01-01T00:00:00Z",
        "until": "2026-04-02T00:00:00Z",
        "bucket": "day",
    }
    expect(page.locator("#chart-figure")).to_have_attribute("data-buckets", "91")


def test_the_page_time_window_control_moves_the_chart_and_back_moves_it_back(page: Page):
    # Polls a minute apart: the requests below follow the control and the history at once.
    open_dashboard(page, poll=60_000)
    expect(page.locator("#chart-heading")).to_have_text("Last 24 h, per hour")

    with page.expect_request(is_stats_request) as sent:
        page.get_by_label("Time window").select_option("1h")
    assert stats_params(sent.value.url)["bucket"] == "minute"
    expect(page.locator("#chart-heading")).to_have_text("Last hour, per minute")

    page.get_by_label("Time window").select_option("custom")
    page.get_by_label("From (UTC)").fill("2026-01-10T08:00")
    page.get_by_label("To (UTC)").fill("2026-01-17T08:00")
    with page.expect_request(is_stats_request) as sent:
        page.get_by_role("button", name="Apply range").click()
    assert stats_params(sent.value.url) == {
        "since": "2026-01-10T08:00:00Z",
        "until": "2026-01-17T08:00:00Z",
        "bucket": "hour",
    }

    with page.expect_request(is_stats_request) as sent:
        page.go_back()
    assert stats_params(sent.value.url)["bucket"] == "minute"


def test_the_bucket_keeps_a_window_within_200_buckets(page: Page):
    open_dashboard(page)
    hour = 3_600_000
    cases = {"3h": 3 * hour, "8d": 8 * hour * 24, "9d": 9 * hour * 24, "3y": 1095 * hour * 24}
    buckets = page.evaluate(
        """cases => import('/assets/chart.js').then((chart) => Object.fromEntries(
             Object.entries(cases).map(([name, span]) => [name, chart.bucketFor(0, span)])))""",
        cases,
    )
    assert buckets == {"3h": "minute", "8d": "hour", "9d": "day", "3y": "day"}
    # More than the API's 1,000 days: its latest 1,000.
    path = page.evaluate(
        "import('/assets/chart.js').then((chart) => chart.statsPath("
        "{since: Date.parse('2020-01-01T00:00:00Z'), until: Date.parse('2026-01-01T00:00:00Z')}))"
    )
    params = stats_params(path)
    assert (instant(params["until"]) - instant(params["since"])).days == 1000


def test_the_chart_sits_beside_the_tiles_on_a_wide_screen(page: Page):
    page.set_viewport_size(WIDE)
    open_dashboard(page)
    expect(page.locator("#chart-plot canvas")).to_be_visible()
    tiles = page.locator("#tiles").bounding_box()
    chart = page.locator("#chart").bounding_box()
    assert tiles is not None and chart is not None
    assert chart["x"] >= tiles["x"] + tiles["width"]
    assert chart["y"] == pytest.approx(tiles["y"], abs=2)
    assert chart["height"] <= 200
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]


def test_on_a_phone_the_chart_folds_to_its_totals_and_opens_on_demand(page: Page):
    page.set_viewport_size(PHONE)
    open_dashboard(page)
    toggle = page.get_by_role("button", name="Chart", exact=True)
    expect(toggle).to_have_attribute("aria-expanded", "false")
    expect(page.locator("#chart-totals")).to_contain_text("new")
    expect(page.locator("#chart-plot")).to_be_hidden()
    chart = page.locator("#chart").bounding_box()
    # Its heading and totals (two or three short lines), so the jobs stay near the top.
    assert chart is not None and chart["height"] <= 90

    toggle.click()

    expect(toggle).to_have_attribute("aria-expanded", "true")
    canvas = page.locator("#chart-plot canvas")
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box is not None and box["width"] > 250
    widths = page.evaluate(
        "[document.documentElement.scrollWidth, document.documentElement.clientWidth]"
    )
    assert widths[0] <= widths[1]


@pytest.mark.parametrize("viewport", [WIDE, PHONE], ids=["wide", "phone"])
def test_screen_readers_get_the_figures_as_a_captioned_table(
    page: Page, api: httpx.Client, unique_name, viewport: ViewportSize
):
    (job,) = create_jobs(api, [unique_name("chart-table")])
    api.patch(f"/api/jobs/{job['id']}/", json={"status_type": "FAILED"})
    page.set_viewport_size(viewport)
    with page.expect_response(lambda response: is_stats_request(response.request)) as answer:
        open_dashboard(page)
    total = answer.value.json()["total"]
    if viewport == PHONE:  # folded: its totals only, until opened
        page.get_by_role("button", name="Chart", exact=True).click()

    figure = page.get_by_role("figure")
    expect(figure).to_have_accessible_name(re.compile(r"^Last 24 h, per hour .*\d+ new"))
    # The canvas says nothing; the table says it all.
    expect(page.locator("#chart-plot")).to_have_attribute("aria-hidden", "true")
    table = page.get_by_role("table", name=re.compile("Jobs entering each status"))
    # Every column keeps its header (the narrow layout's cards are the jobs table's only).
    expect(table.get_by_role("columnheader")).to_have_count(8)
    total_row = table.get_by_role("row", name=re.compile("in total"))
    expect(total_row.get_by_role("cell")).to_have_text(
        [
            *(f"{total['entered'][status]:,}" for status in STATUSES),
            f"{round(total['failure_rate'] * 100)}%",
            re.compile(r".+"),
            re.compile(r".+"),
        ]
    )
    # Each bucket that saw an event, by its start: this hour's at least.
    expect(table.get_by_role("row")).not_to_have_count(2)
