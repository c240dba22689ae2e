"""The table comes first: on a laptop screen most of it is above the fold, on a phone its
first row is; creating a job is one button away, folded until asked for."""

from playwright.sync_api import Page, expect

from tests.dashboard.conftest import create_jobs, open_dashboard

LAPTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _rows_above_the_fold(page: Page) -> int:
    """Job rows wholly inside the viewport, the page unscrolled."""
    assert page.evaluate("window.scrollY") == 0
    height = page.viewport_size["height"] if page.viewport_size else 0
    boxes = [row.bounding_box() for row in page.locator("#jobs-body tr").all()]
    return sum(1 for box in boxes if box and box["y"] >= 0 and box["y"] + box["height"] <= height)


def test_a_1440x900_screen_shows_at_least_15_job_rows_above_the_fold(page, api, unique_name):
    jobs = create_jobs(api, [unique_name(f"fold-{n:02d}") for n in range(20)])
    page.set_viewport_size(LAPTOP)
    open_dashboard(page, search=jobs[0]["name"].rsplit("-", 2)[0])
    expect(page.locator("#jobs-body tr")).to_have_count(20)

    assert _rows_above_the_fold(page) >= 15


def test_a_390x844_phone_shows_the_first_job_row_without_scrolling(page, api, unique_name):
    jobs = create_jobs(api, [unique_name(f"phone-{n}") for n in range(3)])
    page.set_viewport_size(PHONE)
    open_dashboard(page, search=jobs[0]["name"].rsplit("-", 1)[0])
    expect(page.locator("#jobs-body tr")).to_have_count(3)

    assert _rows_above_the_fold(page) >= 1


def test_the_create_form_folds_away_until_new_job_is_pressed(page):
    open_dashboard(page)
    new_job = page.get_by_role("button", name="New job")
    name = page.get_by_label("Name", exact=True)
    expect(new_job).to_have_attribute("aria-expanded", "false")
    expect(new_job).to_have_attribute("aria-controls", "create")
    expect(name).to_be_hidden()

    new_job.focus()
    page.keyboard.press("Enter")

    expect(new_job).to_have_attribute("aria-expanded", "true")
    expect(name).to_be_visible()
    expect(name).to_be_focused()
    # Escape in the form folds it again and gives focus back to its button.
    page.keyboard.press("Escape")
    expect(new_job).to_have_attribute("aria-expanded", "false")
    expect(name).to_be_hidden()
    expect(new_job).to_be_focused()
