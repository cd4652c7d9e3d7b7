"""The MLflow UI: the registered model, its champion alias, the champion's model card."""

from __future__ import annotations

import pytest

from tests.ui.pages import champion_run, see, see_css

pytestmark = pytest.mark.ui


def test_registered_model_champion_and_card(ui_stack, browser, screenshot):
    browser.get(f"{ui_stack.mlflow}/#/models/{ui_stack.model_name}")
    see_css(browser, "[title='champion']")  # the alias tag
    version, *_ = champion_run(ui_stack)
    browser.get(f"{ui_stack.mlflow}/#/models/{ui_stack.model_name}/versions/{version}")
    see_css(browser, "[title='champion']")
    see(browser, "Model card", "h3")  # the description, rendered from "### Model card"
    see(browser, "Intended use.")
    screenshot()
