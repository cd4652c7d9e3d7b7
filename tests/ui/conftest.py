"""Browser tests: headless Chromium against the UIs of `make up`, as a person sees them.

The session fixture runs the README's path in a fresh clone of this checkout's HEAD (its own
`.local/` state and free ports, so the developer's `make up` is never touched): `scripts/demo.sh`
(land 2013, publish the snapshot, the `training` DAG), one monitored night on the command line
(gate, score, monitor: what the nightly DAGs run), then `scripts/up.sh`; `scripts/down.sh` at
the end. Each test saves a screenshot named after itself under `$MLOPS_TEST_ARTIFACTS` (else
`tests/ui/artifacts/`), beside `timings.json` (how long each set-up step took).

`MLOPS_UI_REUSE=<clone>` reuses a clone this fixture left up (its `ui_stack.json`) and leaves
it running: for writing a test without paying for the demo again."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pytest
import yaml

from tests.support.local_server import free_port

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = Path(os.environ.get("MLOPS_TEST_ARTIFACTS") or REPO / "tests" / "ui" / "artifacts")
#: The monitored night: Christmas Day (carriers and timetables drift: the page says act and names
#: its runbook), scored with the night before, in the demo model's holdout (Nov-Dec 2013).
MONITORED_DAY = date(2013, 12, 25)
#: The day a test scores from `batch_scoring`'s form: its batch is gated in the set-up, as the
#: night's `ingestion` does, so the run's sensor finds the verdict.
FORM_DAY = MONITORED_DAY + timedelta(days=1)
WAIT = 60  # seconds an element may take to appear (a cold SPA on a shared 2-core machine)


@dataclass
class UiStack:
    root: Path
    airflow: str
    mlflow: str
    password: str
    model_name: str
    monitored_day: date = MONITORED_DAY
    form_day: date = FORM_DAY
    timings: dict[str, float] = field(default_factory=dict)


def _env(root: Path, airflow_port: int, mlflow_port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "MLFLOW"))}
    env.pop("MLOPS_WORKSPACE", None)
    env.update(
        MLOPS_STATE=str(root / ".local"),
        PYTHONPATH=str(root),
        AIRFLOW__API__PORT=str(airflow_port),
        MLFLOW_PORT=str(mlflow_port),
    )
    return env


def _step(stack_timings: dict[str, float], name: str, cmd: list[str], root: Path, env) -> str:  # type: ignore[no-untyped-def]
    """Run one set-up step in the clone, timed; its output ends up in the failure message."""
    started = time.monotonic()
    done = subprocess.run(  # noqa: S603 - our own scripts
        cmd, cwd=root, env=env, capture_output=True, text=True, timeout=3600, check=False
    )
    stack_timings[name] = round(time.monotonic() - started, 1)
    if done.returncode != 0:
        raise RuntimeError(
            f"{name} failed ({done.returncode}):\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
        )
    return done.stdout


def _monitored_night(timings: dict[str, float], root: Path, env: dict[str, str]) -> None:
    """Two scored nights and the second one monitored, as batch_scoring and monitoring run them."""
    shell = ". scripts/env.sh && {cmds}"
    first, day = MONITORED_DAY - timedelta(days=1), MONITORED_DAY
    cmds = " && ".join(
        [
            f"mlops gate batch --contract outcomes --date {first - timedelta(days=1)}",
            f"mlops score --date {first} --run-id ui-{first}",
            f"mlops gate batch --contract outcomes --date {first}",
            f"mlops score --date {day} --run-id ui-{day}",
            f"mlops monitor --date {day}",
            f"mlops gate batch --contract scheduled_flights --date {FORM_DAY}",
        ]
    )
    _step(
        timings,
        "monitored night (gate, score x2, monitor; the form day gated)",
        ["bash", "-c", shell.format(cmds=cmds)],
        root,
        env,
    )


def _short_data_wait(root: Path) -> None:
    """The clone's `scoring.wait_for_data_hours` cut to a minute, committed. The demo's data ends
    in 2013 while the clock says today: unpausing `batch_scoring` (the form's "Unpause on
    trigger") starts tonight's run, which waits for a batch that never lands, and a manual run
    queues behind it (one run at a time). With the short wait tonight's run fails "data is
    late" and the manual day runs, as on a box whose nightly data is late."""
    params = root / "params.yaml"
    text, found = re.subn(
        r"(?m)^(\s+wait_for_data_hours:)\s*[0-9.]+", r"\g<1> 0.01", params.read_text()
    )
    assert found == 1, "scoring.wait_for_data_hours not found in params.yaml"
    params.write_text(text)
    git = ["git", "-c", "user.name=ui-tests", "-c", "user.email=ui-tests@127.0.0.1"]
    subprocess.run(  # noqa: S603
        [*git, "commit", "-qam", "UI tests: a one-minute wait for tonight's data"],
        cwd=root,
        check=True,
    )


@pytest.fixture(scope="session")
def ui_stack() -> Iterator[UiStack]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    model_name = yaml.safe_load((REPO / "params.yaml").read_text())["mlflow"]["registered_model"]
    reuse = os.environ.get("MLOPS_UI_REUSE")
    if reuse:
        info = json.loads((Path(reuse) / "ui_stack.json").read_text())
        yield UiStack(root=Path(reuse), model_name=model_name, **info)
        return
    scratch = Path(tempfile.mkdtemp(prefix="mlops-ui-"))
    root = scratch / "repo"
    timings: dict[str, float] = {}
    subprocess.run(["git", "clone", "-q", str(REPO), str(root)], check=True)  # noqa: S603,S607
    (root / ".venv").symlink_to(REPO / ".venv")
    _short_data_wait(root)
    airflow_port, mlflow_port = free_port(), free_port()
    env = _env(root, airflow_port, mlflow_port)
    try:
        _step(timings, "scripts/demo.sh", ["scripts/demo.sh"], root, env)
        _monitored_night(timings, root, env)
        out = _step(timings, "scripts/up.sh", ["scripts/up.sh"], root, env)
        password = next(
            line.split("admin / ")[1].strip() for line in out.splitlines() if "admin / " in line
        )
        info = {
            "airflow": f"http://127.0.0.1:{airflow_port}",
            "mlflow": f"http://127.0.0.1:{mlflow_port}",
            "password": password,
        }
        (root / "ui_stack.json").write_text(json.dumps(info))
        (ARTIFACTS / "timings.json").write_text(json.dumps(timings, indent=2))
        yield UiStack(root=root, model_name=model_name, timings=timings, **info)
    finally:
        if os.environ.get("MLOPS_UI_KEEP"):  # left up for MLOPS_UI_REUSE; scripts/down.sh stops it
            print(f"\nUI stack left up: MLOPS_UI_REUSE={root} (stop: cd {root} && scripts/down.sh)")
        else:
            subprocess.run(["scripts/down.sh"], cwd=root, env=env, check=False)  # noqa: S603,S607
            shutil.rmtree(scratch, ignore_errors=True)


@pytest.fixture(scope="session")
def browser():  # type: ignore[no-untyped-def]
    """One headless Chromium for the session (the system's chromedriver; Selenium Manager off)."""
    os.environ["SE_OFFLINE"] = "1"
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    driver_path = shutil.which("chromedriver")
    if not driver_path or not (shutil.which("chromium") or shutil.which("chromium-browser")):
        pytest.fail(
            "chromium/chromedriver missing: run scripts/chromium.sh ensure (make test-ui does)"
        )
    options = webdriver.ChromeOptions()
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--window-size=1400,1000",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def screenshot(request, browser):  # type: ignore[no-untyped-def]
    """Call to save the page as `<test name>.png` under the artifacts folder."""

    def save(suffix: str = "") -> Path:
        path = ARTIFACTS / f"{request.node.name}{suffix}.png"
        browser.save_screenshot(str(path))
        return path

    return save


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    """A failed test leaves the page it failed on as `<test name>_failed.png`."""
    report = yield
    browser = item.funcargs.get("browser") if hasattr(item, "funcargs") else None
    if report.when == "call" and report.failed and browser is not None:
        browser.save_screenshot(str(ARTIFACTS / f"{item.name}_failed.png"))
    return report
