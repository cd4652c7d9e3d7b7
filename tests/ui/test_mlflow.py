"""The MLflow UI: the registered model, its champion alias, the champion's model card."""

from __future__ import annotations

import pytest

from tests.ui.pages import champion_run, see

pytestmark = pytest.mark.ui


def test_registered_model_champion_and_card(ui_stack, browser, screenshot):
    browser.get(f"{ui_stack.mlflow}/#/models/{ui_stack.model_name}")
    see(browser, "champion")
    version, _, _ = champion_run(ui_stack)
    browser.get(f"{ui_stack.mlflow}/#/models/{ui_stack.model_name}/versions/{version}")
    see(browser, "champion")
    see(browser, "Model card")
    screenshot()
