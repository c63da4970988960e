"""ceasefire explore: the sliders, the cached runs on common random numbers, the saved scenario file, and
the page in a real browser (headless Chromium through Selenium)."""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from sim import explore
from sim.cli import main
from sim.scenario import diff, load_scenario

REPO = Path(__file__).resolve().parents[1]
MOSCOW = REPO / "scenarios" / "idlib_2020_moscow.toml"
PROCESS_KEYS = ["processes.cross_theatre_tension.mean", "processes.economy.sanctions", "processes.other_fronts.mean"]


def test_default_sliders_are_the_four_factors_and_the_processes_long_run_levels(monkeypatch):
    assert explore.default_keys(load_scenario(MOSCOW)) == [*explore.DEFAULT_KEYS, *PROCESS_KEYS]
    # a default key the scenario does not have gets no slider
    monkeypatch.setattr(explore, "DEFAULT_KEYS", ("actors.usa.deterrence", "actors.turkey.deterrence"))
    assert explore.default_keys(load_scenario(MOSCOW)) == ["actors.turkey.deterrence", *PROCESS_KEYS]


def test_param_adds_a_slider_and_bad_keys_are_refused(tmp_path):
    s = explore.settings_from_args(str(MOSCOW), params=["actors.regime.ambition"], save_dir=tmp_path)
    assert s.keys[-1] == "actors.regime.ambition" and len(s.keys) == 8
    slider = explore.slider(load_scenario(MOSCOW), "dynamics.offensive_rate_covered")
    # a calibrated rate slides over its prior's range, not the schema's typo guard (0 to a million)
    assert (slider["min"], slider["max"]) == (0.5, 40.0) and slider["step"] == pytest.approx(0.395)
    from sim.scenario import InputError
    with pytest.raises(InputError) as info:
        explore.settings_from_args(str(MOSCOW), params=["actors.turkey.deterence", "actors.turkey.label"])
    assert info.value.problems[0].startswith("--param actors.turkey.deterence: ")
    assert "did you mean 'deterrence'" in info.value.problems[0]
    assert info.value.problems[1] == "--param actors.turkey.label: not a numeric parameter"


def test_runs_are_cached_and_on_common_random_numbers():
    path = str(MOSCOW.resolve())
    a = explore.outcome(path, (), 300, 0)
    assert explore.outcome(path, (), 300, 0) is a                      # cached by settings
    b = explore.outcome(path, (("actors.turkey.deterrence", 1.0),), 300, 0)
    assert b["headline"] != a["headline"]
    # same seed, so the unchanged scenario is the same however often it is run
    explore.outcome.cache_clear()
    again = explore.outcome(path, (), 300, 0)
    assert again is not a and again["survival"] == a["survival"]


def test_saved_scenario_inherits_the_original_and_validates(tmp_path, capsys):
    settings = explore.settings_from_args(str(MOSCOW), save_dir=tmp_path / "elsewhere")
    (tmp_path / "elsewhere").mkdir()
    changes = {"actors.turkey.deterrence": 0.45, "processes.cross_theatre_tension.mean": 0.55}
    path = explore.save_scenario(settings, "cooler", changes)
    text = path.read_text()
    assert 'name = "cooler"' in text and "[actors.turkey]\ndeterrence = 0.45" in text
    assert "base = " in text and "idlib_2020_moscow.toml" in text
    assert main(["validate", str(path)]) == 0
    saved = load_scenario(path)
    assert saved.name == "cooler"
    assert sorted(k for k, _, _ in diff(load_scenario(MOSCOW), saved)) == \
        sorted([*changes, "description", "name"])
    from sim.scenario import InputError
    with pytest.raises(InputError):
        explore.save_scenario(settings, "no spaces", changes)
    # saving again replaces the file explore wrote, never a file it did not write (issue 12)
    assert explore.save_scenario(settings, "cooler", {"actors.turkey.deterrence": 0.5}) == path
    (tmp_path / "elsewhere" / "mine.toml").write_text("# my own notes\n")
    with pytest.raises(InputError, match="not saved by 'ceasefire explore'"):
        explore.save_scenario(settings, "mine", changes)
    assert (tmp_path / "elsewhere" / "mine.toml").read_text() == "# my own notes\n"


def test_explore_without_solara_says_how_to_install(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "solara", None)        # import solara now raises ImportError
    assert main(["explore", str(MOSCOW), "--port", "1"]) == 2
    err = capsys.readouterr().err
    assert 'pip install ".[explore]"' in err


# --- the page in headless Chromium -----------------------------------------------------------------

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
CHROMEDRIVER = shutil.which("chromedriver")
needs_browser = pytest.mark.skipif(
    importlib.util.find_spec("solara") is None or importlib.util.find_spec("selenium") is None
    or CHROMIUM is None or CHROMEDRIVER is None,
    reason="needs the explore extra (solara), selenium, chromium and chromium-driver")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def server(tmp_path):
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "explore", str(MOSCOW), "--port", str(port),
                             "--runs", "300", "--save-dir", str(tmp_path)], cwd=tmp_path, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        for _ in range(240):                     # up to a minute for the server to answer
            if proc.poll() is not None:
                pytest.fail(f"the explorer exited with {proc.returncode}: {proc.stdout.read()}")
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.25)
        else:
            pytest.fail("the explorer did not answer within a minute")
        yield url, tmp_path
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


@needs_browser
def test_moving_a_slider_changes_the_curve_and_save_writes_a_valid_scenario(server):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import WebDriverWait

    url, save_dir = server
    opts = webdriver.ChromeOptions()
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 "--window-size=1400,1400", f"--user-data-dir={tempfile.mkdtemp(prefix='explore-chromium-')}"):
        opts.add_argument(flag)
    opts.binary_location = CHROMIUM
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
    try:
        driver.get(url)
        wait = WebDriverWait(driver, 120)
        headline = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "#headline"))[0]
        before = headline.get_attribute("data-p-collapse")
        compare_before = headline.get_attribute("data-compare-p-collapse")
        assert before == compare_before              # nothing moved yet: the same run twice
        assert headline.get_attribute("data-month") == "24" and "P(collapse by 24 months)" in headline.text
        thumb = driver.find_element(By.CSS_SELECTOR, ".param-actors_turkey_deterrence [role=slider]")
        assert float(thumb.get_attribute("aria-valuenow")) == pytest.approx(0.75)
        driver.execute_script("arguments[0].focus()", thumb)
        ActionChains(driver).send_keys(Keys.END).perform()      # deterrence to its maximum, 1
        wait.until(lambda d: d.find_element(By.CSS_SELECTOR, "#headline").get_attribute("data-p-collapse") != before)
        headline = driver.find_element(By.CSS_SELECTOR, "#headline")
        assert float(driver.find_element(By.CSS_SELECTOR, ".param-actors_turkey_deterrence [role=slider]")
                     .get_attribute("aria-valuenow")) == 1.0
        # the comparison curve is the scenario as loaded: unchanged, on the same random numbers
        assert headline.get_attribute("data-compare-p-collapse") == compare_before
        expected = explore.outcome(str(MOSCOW.resolve()), (("actors.turkey.deterrence", 1.0),), 300, 0)
        assert float(headline.get_attribute("data-p-collapse")) == pytest.approx(expected["headline"]["estimate"],
                                                                                  abs=1e-6)

        driver.find_element(By.CSS_SELECTOR, ".save").click()
        message = wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".save-message"))[0]
        saved = save_dir / "idlib_2020_moscow_explored.toml"
        assert str(saved) in message.text
        assert "[actors.turkey]\ndeterrence = 1.0" in saved.read_text()
        assert main(["validate", str(saved)]) == 0
    finally:
        driver.quit()


def test_the_comparison_menu_lists_scenarios_not_cases_or_fit_fragments():
    choices = explore.settings_from_args(str(MOSCOW)).choices
    assert "idlib_2021_baseline" in choices and "doc003_s1_broad_escalation" in choices
    assert not [n for n in choices if n.startswith(("history/", "calibrated_"))]
