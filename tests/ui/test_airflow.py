"""The Airflow UI (a React SPA): log in, the DAGs, the training run and its docs, its MLflow run."""

from __future__ import annotations

import urllib.parse

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.ui.pages import airflow_login, champion_airflow_run, champion_run, follow, see, wait

pytestmark = pytest.mark.ui

DAGS = ("ingestion", "batch_scoring", "monitoring", "training")


def test_airflow_dags_and_training_run(ui_stack, browser, screenshot):
    airflow_login(browser, ui_stack)
    browser.get(f"{ui_stack.airflow}/dags")
    for dag in DAGS:
        see(browser, dag)
    screenshot("_dags")

    browser.get(f"{ui_stack.airflow}/dags/training/runs")
    # the run's state is an icon labelled with it
    wait(browser).until(
        ec.visibility_of_element_located((By.CSS_SELECTOR, "[aria-label='success']"))
    )
    screenshot("_runs")
    browser.get(f"{ui_stack.airflow}/dags/training")
    docs = (By.CSS_SELECTOR, "button[aria-label='Dag Docs']")
    wait(browser).until(ec.element_to_be_clickable(docs)).click()
    see(browser, "Pulls the DVC-versioned training snapshot")
    screenshot()


def test_training_run_links_to_mlflow(ui_stack, browser, screenshot):
    """train_model's "MLflow run" extra link, clicked, opens the run it logged (the champion)."""
    _, _, _, run_name = champion_run(ui_stack)
    airflow_login(browser, ui_stack)
    run_id = urllib.parse.quote(champion_airflow_run(ui_stack), safe="")
    browser.get(f"{ui_stack.airflow}/dags/training/runs/{run_id}/tasks/train_model")
    # the task instance's extra links are listed on its Details tab
    wait(browser).until(ec.element_to_be_clickable((By.LINK_TEXT, "Details"))).click()
    see(browser, "Extra Links")
    link = wait(browser).until(ec.element_to_be_clickable((By.LINK_TEXT, "MLflow run")))
    screenshot("_task")
    follow(browser, link)
    wait(browser).until(lambda d: ui_stack.mlflow in d.current_url)
    see(browser, run_name)
    screenshot()
    if len(browser.window_handles) > 1:
        browser.close()
    browser.switch_to.window(browser.window_handles[0])
