"""The on-call page (the Airflow plugin at /monitoring/) of the monitored night."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By

from tests.ui.pages import airflow_login, see, see_css

pytestmark = pytest.mark.ui


def test_oncall_page(ui_stack, browser, screenshot):
    airflow_login(browser, ui_stack)
    browser.get(f"{ui_stack.airflow}/monitoring/date={ui_stack.monitored_day}/index.html")
    see(browser, f"Flight delay model, {ui_stack.monitored_day}", "h1")
    verdict = see_css(browser, "p.verdict")
    assert verdict.text.strip(), "the verdict is empty"
    see_css(browser, "p.verdict + ul li")  # the triggers: why the verdict is what it is
    runbook = see(browser, "Runbook:", "p")
    screenshot()
    links = runbook.find_elements(By.TAG_NAME, "a")
    if not links:
        assert "none needed" in runbook.text
        pytest.skip(
            f"verdict {verdict.text} on {ui_stack.monitored_day}: no runbook link to follow"
        )
    links[0].click()
    see(browser, "#")  # a runbook is Markdown served as text
    screenshot("_runbook")
