"""The hub view in a real headless browser (Debian's chromium through chromium-driver, driven by selenium) against
a deployment's real api-server: refused without a login, reached by logging in through Airflow's login page, shown
inside Airflow's UI (its "Aeries hub" navigation item), one click from a run to its report, and from a vendor to
what it received (the disclosure log).

:func:`check_the_hub_view` runs against a deployment whose Destiny DAG has finished runs (tests/system/
test_scheduler.py calls it once its runs are done, so that the browser test costs no deployment of its own)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
WAIT = 60


def browser():
    """A headless chromium; skips (fails on CI, where .ci/run installs them) without chromium or chromium-driver."""
    from tests.system.conftest import unavailable

    webdriver = pytest.importorskip("selenium.webdriver")
    binary = shutil.which("chromium") or CHROMIUM
    driver_path = shutil.which("chromedriver") or CHROMEDRIVER
    if not (Path(binary).exists() and Path(driver_path).exists()):
        unavailable(f"the browser test needs chromium and chromium-driver ({binary}, {driver_path})")
    options = webdriver.ChromeOptions()
    options.binary_location = binary
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000",
                     "--no-proxy-server"):
        options.add_argument(argument)
    return webdriver.Chrome(options=options, service=webdriver.ChromeService(executable_path=driver_path))


def check_the_hub_view(airflow, user: str, dag_id: str, run: dict, report: dict, folder: Path) -> list[str]:
    """Check what ``user`` (one of the deployment's users) sees of ``run`` (the DAG's latest, whose report is
    ``report``) after logging in through Airflow's login page; return what to print."""
    import requests
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as shown
    from selenium.webdriver.support.ui import WebDriverWait

    hub = f"{airflow.url}/aeries-hub/"
    with requests.Session() as anonymous:
        anonymous.trust_env = False
        refused = anonymous.get(hub, timeout=30)
    assert refused.status_code == 401, (refused.status_code, refused.text[:500])

    driver = browser()
    screenshots = []
    try:
        wait = WebDriverWait(driver, WAIT)
        driver.get(hub)  # not logged in: the page says so and links to Airflow's login
        assert driver.find_element(By.TAG_NAME, "h1").text == "Not logged in"
        driver.find_element(By.ID, "login").click()  # Airflow's login page, which comes back to the hub
        wait.until(shown.presence_of_element_located((By.NAME, "username"))).send_keys(user)
        driver.find_element(By.NAME, "password").send_keys(airflow.users[user])
        driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
        row = wait.until(shown.presence_of_element_located((By.ID, f"dag-{dag_id}")))
        assert driver.current_url == hub
        status = row.find_element(By.CSS_SELECTOR, ".status")
        assert (status.text, status.get_attribute("class")) == (report["status"], "status completed")
        delivered = sum(d["rows"] for d in report["delivered"])
        assert row.find_element(By.CSS_SELECTOR, ".delivered").text.splitlines()[0] == str(delivered)
        assert row.find_element(By.CSS_SELECTOR, ".rejects").text == str(report["rejected"])
        assert row.find_element(By.CSS_SELECTOR, ".outcome").text == report["outcome"]
        next_run = row.find_element(By.CSS_SELECTOR, ".next-run").text
        assert next_run.endswith(" UTC"), next_run
        screenshots.append(folder / "hub.png")
        driver.save_screenshot(str(screenshots[-1]))

        link = row.find_element(By.CSS_SELECTOR, "a.run-link")
        assert link.text == run["dag_run_id"]
        link.click()  # one click to the run's report, rejects and quality results
        wait.until(shown.presence_of_element_located((By.ID, "report-json")))
        assert driver.find_element(By.TAG_NAME, "h1").text == f"{dag_id}: {run['dag_run_id']}"
        checks = driver.find_elements(By.CSS_SELECTOR, "#quality ~ table tr[class^=check-]")
        assert len(checks) == sum(report["checks"].values()), (len(checks), report["checks"])
        assert f'"integration": "{report["integration"]}"' in driver.find_element(By.ID, "report-json").text
        screenshots.append(folder / "run.png")
        driver.save_screenshot(str(screenshots[-1]))

        driver.find_element(By.LINK_TEXT, "← Aeries hub").click()  # back, then what the vendor received
        wait.until(shown.presence_of_element_located((By.ID, f"dag-{dag_id}")))
        driver.find_element(By.CSS_SELECTOR, f"#dag-{dag_id} a.disclosures-link").click()
        newest = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "#disclosures tr.disclosure")))
        cells = [cell.text for cell in newest.find_elements(By.TAG_NAME, "td")]
        assert cells[3:5] == ["patrons.csv", str(sum(d["rows"] for d in report["delivered"]))], cells
        if not all(d.get("already_there") for d in report["delivered"]):  # sent again: the newest entry is its
            assert cells[1] == run["dag_run_id"], cells
        screenshots.append(folder / "received.png")
        driver.save_screenshot(str(screenshots[-1]))

        driver.get(f"{airflow.url}/plugin/aeries_hub")  # the navigation item: the page inside Airflow's UI
        frame = wait.until(shown.presence_of_element_located((By.CSS_SELECTOR, "iframe")))
        driver.switch_to.frame(frame)
        wait.until(shown.presence_of_element_located((By.ID, f"dag-{dag_id}")))
        driver.switch_to.default_content()
        screenshots.append(folder / "in-airflow.png")
        driver.save_screenshot(str(screenshots[-1]))
    finally:
        driver.quit()
    return [f"hub view: anonymous request {refused.status_code}; screenshots: " + ", ".join(map(str, screenshots))]
