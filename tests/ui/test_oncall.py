"""The on-call page (the Airflow plugin at /monitoring/) of the monitored night: its verdict,
the triggers behind it, its Evidently report and the runbook it names."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.ui.pages import airflow_login, see, see_css

pytestmark = pytest.mark.ui


def test_oncall_page(ui_stack, browser, screenshot):
    airflow_login(browser, ui_stack)
    page = f"{ui_stack.airflow}/monitoring/date={ui_stack.monitored_day}/index.html"
    browser.get(page)
    see(browser, f"Flight delay model, {ui_stack.monitored_day}", "h1")
    verdict = see_css(browser, "p.verdict")
    # the monitored night (Christmas Day) drifts: the page says act, and why
    assert verdict.text.strip().lower().startswith("act"), verdict.text
    triggers = see_css(browser, "p.verdict + ul li")
    assert "drift" in triggers.text, triggers.text
    runbook = see(browser, "Runbook:", "p")
    screenshot()

    browser.find_element(By.LINK_TEXT, "Evidently drift report").click()
    see(browser, "Drift in column")  # Evidently's own report, rendered in the browser
    screenshot("_evidently")

    browser.get(page)
    runbook = see(browser, "Runbook:", "p")
    links = {link.text: link for link in runbook.find_elements(By.TAG_NAME, "a")}
    assert "drift-alert.md" in links, runbook.text
    links["drift-alert.md"].click()
    see(browser, "# Runbook")  # a runbook is Markdown served as text
    screenshot("_runbook")
