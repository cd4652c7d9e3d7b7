"""The Airflow UI (a React SPA): log in, the DAGs, the training run and its docs, its MLflow run."""

from __future__ import annotations

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec

from tests.ui.pages import airflow_login, champion_run, see, wait

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
    _, run_id, experiment, run_name = champion_run(ui_stack)
    link = f"{ui_stack.mlflow}/#/experiments/{experiment}/runs/{run_id}"
    browser.get(link)
    see(browser, run_name)
    screenshot()
    pytest.skip(
        "the click on train_model's 'MLflow run' extra link is not automated yet (the link is "
        "tested in test_training_dag): opened the run page by its id instead"
    )
