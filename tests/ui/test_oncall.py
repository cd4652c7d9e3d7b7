"""The on-call page (the Airflow plugin at /monitoring/) of the monitored night."""

from __future__ import annotations

import pytest

from tests.ui.pages import airflow_login, see

pytestmark = pytest.mark.ui


def test_oncall_page(ui_stack, browser, screenshot):
    airflow_login(browser, ui_stack)
    browser.get(f"{ui_stack.airflow}/monitoring/date={ui_stack.monitored_day}/index.html")
    see(browser, str(ui_stack.monitored_day))
    screenshot()
