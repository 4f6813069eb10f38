"""What a person does in the browser in the hub's end-to-end test: log in through the hub's form, open nbgrader's
Assignments tab from the Nbgrader menu and press its Fetch and Submit buttons (Playwright, sync API)."""
from __future__ import annotations

import time


def login(browser, hub, user: str, timings: dict, keep_page: bool = False):
    """Log in through the hub's form in a fresh context and wait for JupyterLab.

    Returns (context, page config, page or None); the page stays open with ``keep_page``."""
    t0 = time.monotonic()
    context = browser.new_context()
    page = context.new_page()
    page.goto(f"{hub.url}/hub/login", wait_until="domcontentloaded", timeout=120_000)
    page.fill("#username_input", user)
    page.fill("#password_input", hub.password)
    page.click("#login_submit")
    page.wait_for_url(f"**/user/{user}/lab**", timeout=300_000)
    page.wait_for_selector("#jp-main-dock-panel", timeout=300_000)
    config = page.evaluate("JSON.parse(document.getElementById('jupyter-config-data').textContent)")
    if not keep_page:
        page.close()
        page = None
    timings[f"login {user}"] = round(time.monotonic() - t0, 1)
    return context, config, page


def nbgrader_menu(page) -> list[str]:
    """Open the Nbgrader menu; returns its item labels (the menu stays open)."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Nbgrader").click()
    page.wait_for_selector(".lm-Menu-itemLabel", timeout=30_000)
    return [t.strip() for t in page.locator(".lm-Menu-content .lm-Menu-itemLabel").all_inner_texts() if t.strip()]


def fetch_and_submit_in_assignments_tab(page, assignment: str, timeout_ms: int = 180_000) -> list[str]:
    """Nbgrader → Assignment List; press Fetch on ``assignment``, then Submit. Returns the menu's labels."""
    labels = nbgrader_menu(page)
    page.locator(".lm-Menu-itemLabel", has_text="Assignment List").click()
    released = page.locator("#released_assignments_list")
    released.get_by_text(assignment).first.wait_for(timeout=timeout_ms)
    released.locator("button", has_text="Fetch").first.click()
    fetched = page.locator("#fetched_assignments_list")
    fetched.get_by_text(assignment).first.wait_for(timeout=timeout_ms)
    fetched.locator("button", has_text="Submit").first.click()
    page.locator("#submitted_assignments_list").get_by_text(assignment).first.wait_for(timeout=timeout_ms)
    return labels
