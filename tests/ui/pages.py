"""What the tests do in a browser, in a person's words: log in, wait for text, click a link."""

from __future__ import annotations

import json
import urllib.parse
import urllib.request

from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

from tests.ui.conftest import WAIT, UiStack


def wait(driver: WebDriver, timeout: float = WAIT) -> WebDriverWait:
    return WebDriverWait(driver, timeout)


def text_xpath(text: str, tag: str = "*") -> str:
    """An element whose own text contains `text` (the SPAs render text in many nested tags)."""
    return f"//{tag}[text()[contains(., {json.dumps(text)})]]"


def see(driver: WebDriver, text: str, tag: str = "*", timeout: float = WAIT) -> WebElement:
    """Wait until `text` is visible on the page; the element showing it."""
    return wait(driver, timeout).until(
        ec.visibility_of_element_located((By.XPATH, text_xpath(text, tag)))
    )


def see_css(driver: WebDriver, css: str, timeout: float = WAIT) -> WebElement:
    return wait(driver, timeout).until(ec.visibility_of_element_located((By.CSS_SELECTOR, css)))


def airflow_login(driver: WebDriver, stack: UiStack) -> None:
    """The simple auth manager's form, as a person fills it (admin, the password up.sh printed)."""
    driver.delete_all_cookies()
    driver.get(f"{stack.airflow}/")
    user = wait(driver).until(ec.visibility_of_element_located((By.NAME, "username")))
    user.send_keys("admin")
    driver.find_element(By.NAME, "password").send_keys(stack.password)
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait(driver).until(lambda d: "/login" not in d.current_url)


def mlflow_api(stack: UiStack, path: str, **query: str) -> dict:
    url = f"{stack.mlflow}/api/2.0/mlflow/{path}?{urllib.parse.urlencode(query)}"
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - 127.0.0.1
        return json.load(response)


def champion_run(stack: UiStack) -> tuple[str, str, str, str]:
    """(version, run id, experiment id, run name) of the champion, from MLflow's REST API."""
    version = mlflow_api(stack, "registered-models/alias", name=stack.model_name, alias="champion")[
        "model_version"
    ]
    run = mlflow_api(stack, "runs/get", run_id=version["run_id"])["run"]
    info = run["info"]
    return version["version"], version["run_id"], info["experiment_id"], info["run_name"]
