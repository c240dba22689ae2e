"""Headless Chromium for the dashboard: Debian's browser, driven by Playwright from PyPI.

Playwright's own browser download is not used (its CDN is not a registry this project may
rely on); `launch` points Playwright at the system's chromium instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from stack.tools import chromium_binary

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Playwright

# Headless, as root in a container, on a machine without outside network: without the
# background-networking flags Chromium keeps trying (and failing) to reach Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
]


def launch(playwright: Playwright) -> Browser:
    """A headless Chromium from the machine (Playwright gives it a fresh, temporary profile)."""
    return playwright.chromium.launch(
        executable_path=str(chromium_binary()), headless=True, args=CHROMIUM_ARGS
    )


def screenshot(gateway_url: str, path: Path) -> None:
    """The dashboard of a running stack as a PNG (the README's picture): the last 7 days
    (the chart's daily rhythm and a seed's failure spike), the jobs whose status changed
    in them, newest first, with one job's panel open, at a laptop's size."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        page.goto(f"{gateway_url}/?window=7d&ordering=-current_status_timestamp")
        page.wait_for_selector("#tiles[aria-busy=false]")
        page.wait_for_selector("#jobs-body tr")
        page.locator("#jobs-body .open-job").nth(1).click()
        page.wait_for_selector("#history li")
        page.wait_for_selector("#chart-plot canvas")
        page.screenshot(path=str(path))
        browser.close()
