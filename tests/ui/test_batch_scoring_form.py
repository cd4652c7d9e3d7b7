"""A manual `batch_scoring` run for a chosen day, from the Airflow UI's trigger form."""

from __future__ import annotations

import json
import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.ui.pages import airflow_login, see, wait

pytestmark = pytest.mark.ui

RUN_TIMEOUT = 600  # seconds: the sensor's first check in the triggerer, then a day's scoring


def test_a_manual_batch_scoring_run_for_a_chosen_day(ui_stack, browser, screenshot):
    """Trigger -> the form's "Day to run for" -> Trigger: the run scores that day (its batch was
    gated in the set-up, as `ingestion` does) and publishes it, whatever the logical date."""
    day = ui_stack.form_day
    published = ui_stack.root / "data" / "predictions" / f"date={day}" / "_published.json"
    assert not published.exists(), "the day must not be scored before the form asks for it"
    airflow_login(browser, ui_stack)
    browser.get(f"{ui_stack.airflow}/dags/batch_scoring")
    wait(browser).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "button[aria-label='Trigger Dag']"))
    ).click()
    see(browser, "Day to run for")
    field = wait(browser).until(
        ec.element_to_be_clickable((By.CSS_SELECTOR, "[role=dialog] input[type=date]"))
    )
    field.click()
    field.send_keys(day.strftime("%m%d%Y"))  # typed as the browser's en-US date field reads it
    assert field.get_attribute("value") == day.isoformat()
    screenshot("_form")
    submit = "//button[normalize-space(.)='Trigger' and not(@aria-label='Trigger Dag')]"
    wait(browser).until(ec.element_to_be_clickable((By.XPATH, submit))).click()
    see(browser, "Dag Run Triggered")
    # the UI opens the new run's page; its header's badge is the run's state (the page
    # refreshes it while the scheduler, the triggerer and a worker run the tasks)
    wait(browser).until(lambda d: "/dags/batch_scoring/runs/" in d.current_url)
    run_id = urllib.parse.unquote(browser.current_url.rstrip("/").rsplit("/", 1)[-1])
    badge = (
        f"//h2[normalize-space(.)={json.dumps(run_id)}]"
        "/following-sibling::span[@data-testid='state-badge']"
    )
    state = wait(browser, RUN_TIMEOUT).until(
        lambda d: next(
            (e.text for e in d.find_elements(By.XPATH, badge) if e.text in ("Success", "Failed")),
            None,
        )
    )
    screenshot()
    assert state == "Success", f"the manual run {run_id} ended {state}"
    names = json.loads(published.read_text())
    assert names, f"{published} lists no shard"
