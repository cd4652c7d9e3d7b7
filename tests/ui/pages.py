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
    """Wait until `text` is visible on the page; the element showing it (the first visible one:
    a report's hidden tabs may hold the same text first)."""
    return wait(driver, timeout).until(
        lambda d: next(
            (e for e in d.find_elements(By.XPATH, text_xpath(text, tag)) if e.is_displayed()),
            False,
        )
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


def champion_airflow_run(stack: UiStack) -> str:
    """The Airflow run id that trained the champion (its MLflow run's `airflow.run_id` tag)."""
    _, run_id, *_ = champion_run(stack)
    tags = mlflow_api(stack, "runs/get", run_id=run_id)["run"]["data"]["tags"]
    return next(tag["value"] for tag in tags if tag["key"] == "airflow.run_id")


def follow(driver: WebDriver, link: WebElement) -> None:
    """Click a link as a person does; a link that opens a new tab is followed into it."""
    before = set(driver.window_handles)
    link.click()
    wait(driver).until(lambda d: len(d.window_handles) >= len(before))
    opened = set(driver.window_handles) - before
    if opened:
        driver.switch_to.window(opened.pop())
