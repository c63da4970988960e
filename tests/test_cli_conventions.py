"""CLI conventions: --version, --json, shell completion, closed pipes, bundled files by name (also in an
installed copy), backtest's default directory, progress off a terminal, the data dictionary, Parquet."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from sim import __version__
from sim.cli import _progress, main

REPO = Path(__file__).resolve().parents[1]
MOSCOW = REPO / "scenarios" / "idlib_2020_moscow.toml"
ENV = {**os.environ, "PYTHONPATH": str(REPO)}


def test_version(capsys):
    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"ceasefire-sim {__version__}\n"


# --- --json: the headline on stdout, nothing else there ---------------------------------------------

def _json(capsys, *argv):
    code = main([*argv, "--json"])
    out, err = capsys.readouterr()
    return code, json.loads(out), err


def test_run_json(tmp_path, capsys):
    code, data, err = _json(capsys, "run", "idlib_2020_moscow", "--runs", "200", "--horizon", "24", "--jobs", "1",
                            "--out", str(tmp_path / "r"), "--no-report")
    assert code == 0
    assert data == {**json.loads((tmp_path / "r" / "summary.json").read_text()), "directory": str(tmp_path / "r")}
    assert "Results written to" in err and "P(collapse by)" in err   # the text went to stderr
    code, data, err = _json(capsys, "run", "idlib_2020_moscow", "--replication", "3", "--horizon", "12")
    assert code == 0 and data["replication"] == 3 and len(data["history"]) == 13 and "collapsed" in data["outcome"]


def test_compare_sweep_diff_params_validate_json(tmp_path, capsys):
    code, data, _ = _json(capsys, "compare", str(MOSCOW), "idlib_2021_baseline", "--runs", "100", "--horizon", "12",
                          "--jobs", "1", "--out", str(tmp_path / "c"), "--no-report",
                          "--no-posterior")   # the two are dated a year apart: different as-of posteriors
    assert code == 0 and len(data) == 1
    assert data[0]["differences"] == json.loads((tmp_path / "c" / "comparison.json").read_text())["differences"]

    exp = tmp_path / "e.toml"
    exp.write_text(f'name = "e"\nscenario = "{MOSCOW.as_posix()}"\nsampler = "latin"\npoints = 6\nreplications = 10\n'
                   f'horizon_months = 6\noutcomes = ["p_collapse", "p_initiated_by:regime"]\n\n'
                   f'[factors.d]\npath = "actors.turkey.deterrence"\nlow = 0.2\nhigh = 1.0\n')
    code, data, _ = _json(capsys, "sweep", str(exp), "--out", str(tmp_path / "s"), "--jobs", "1", "--no-report")
    assert code == 0 and data["experiment"] == "e" and set(data["outcomes"]) == {"p_collapse", "p_initiated_by:regime"}

    code, data, _ = _json(capsys, "diff", "idlib_2020_moscow", "idlib_2021_baseline")
    assert code == 0 and data["a"] == "idlib_2020_moscow" and {"key", "a", "b"} == set(data["differences"][0])

    code, data, _ = _json(capsys, "params", "--role", "patron")
    assert code == 0 and {d["name"] for d in data} >= {"interest_in_guarantor", "air_power"}
    assert all(d["group"] == "patron" for d in data)
    bounded = [d for d in data if "minimum" in d]      # numbers carry bounds; lists and names do not
    assert bounded and all(d["minimum"] <= d["maximum"] for d in bounded)

    bad = tmp_path / "bad.toml"
    # its base (calibrated_syria_as_of_2020-03-06.toml) is found among the bundled scenarios by name
    bad.write_text(MOSCOW.read_text().replace("deterrence = 0.75", "deterrence = 1.75"))
    code, data, err = _json(capsys, "validate", str(MOSCOW), str(bad))
    assert code == 2 and data["valid"] is False and len(data["files"]) == 2
    assert data["problems"] == [f"{bad}: actors.turkey.deterrence: 1.75 is above the maximum 1.0"]


# --- completion -------------------------------------------------------------------------------------

def _complete(script: str, words: list[str]) -> list[str]:
    """COMPREPLY of the generated bash function for the words typed (the last one being completed)."""
    words_text = " ".join(f"'{w}'" for w in words)
    program = (f"{script}\nCOMP_WORDS=({words_text}); COMP_CWORD={len(words) - 1}\n"
               f"_ceasefire_complete\nprintf '%s\\n' \"${{COMPREPLY[@]}}\"\n")
    out = subprocess.run(["bash", "--norc", "-c", program], capture_output=True, text=True, check=True,
                         cwd=REPO / "tests")
    return out.stdout.split()


@pytest.mark.skipif(shutil.which("bash") is None, reason="needs bash")
def test_bash_completion_from_the_parser(capsys):
    assert main(["completion", "bash"]) == 0
    script = capsys.readouterr().out
    assert subprocess.run(["bash", "-n"], input=script, text=True).returncode == 0
    assert _complete(script, ["ceasefire", "ru"]) == ["run"]
    assert set(_complete(script, ["ceasefire", ""])) >= {"run", "compare", "sweep", "discover", "explore",
                                                          "completion", "--version"}
    assert _complete(script, ["ceasefire", "run", "--se"]) == ["--seed"]
    assert set(_complete(script, ["ceasefire", "run", "--"])) >= {"--runs", "--json", "--replication"}
    assert _complete(script, ["ceasefire", "params", "--role", "pa"]) == ["patron"]
    assert "idlib_2020_moscow" in _complete(script, ["ceasefire", "run", "idlib_2020_mo"])
    assert _complete(script, ["ceasefire", "completion", "z"]) == ["zsh"]
    assert main(["completion", "zsh"]) == 0
    zsh = capsys.readouterr().out
    assert "bashcompinit" in zsh and "complete -o filenames -F _ceasefire_complete ceasefire" in zsh
    if shutil.which("zsh"):
        assert subprocess.run(["zsh", "-n"], input=zsh, text=True).returncode == 0


# --- a closed pipe ----------------------------------------------------------------------------------

def test_closed_pipe_ends_quietly():
    """`ceasefire params | head -1`: the reader is gone before the output is written."""
    proc = subprocess.Popen([sys.executable, "-m", "sim.cli", "params"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=ENV)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait() == 141 and err == ""          # no BrokenPipeError traceback, no "Exception ignored"


# --- bundled scenarios and experiments by name ---------------------------------------------------------

def test_run_a_bundled_scenario_by_name_from_an_empty_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", "idlib_2020_moscow", "--runs", "100", "--horizon", "6", "--jobs", "1", "--quiet",
                 "--no-report"]) == 0
    [out] = (tmp_path / "results" / "runs").iterdir()
    assert json.loads((out / "manifest.json").read_text())["scenario_name"] == "idlib_2020_moscow"
    # a path is tried first: a file of that name here wins over the bundled one
    (tmp_path / "idlib_2020_moscow").write_text("not toml at all")
    assert main(["validate", "idlib_2020_moscow"]) == 2
    assert "not valid TOML" in capsys.readouterr().err
    # a copy of a bundled scenario elsewhere still finds its base (calibrated_syria_as_of_2020-03-06.toml)
    shutil.copy(MOSCOW, tmp_path / "mine.toml")
    assert main(["validate", "mine.toml"]) == 0
    assert main(["validate", "no_such_scenario"]) == 2
    assert "no_such_scenario: no such file" in capsys.readouterr().err


def test_installed_copy_has_the_bundled_files(tmp_path):
    """Build the wheel, unpack it (what pip install does) and run a bundled scenario from elsewhere."""
    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "setup.py", "README.md", "LICENSE"):
        shutil.copy(REPO / name, src / name)
    for name in ("sim", "scenarios", "experiments"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path / "dist"),
                            str(src)], capture_output=True, text=True)
    if built.returncode != 0 and "setuptools" in built.stderr and "No matching distribution" in built.stderr:
        pytest.skip("setuptools cannot be fetched to build the wheel")
    assert built.returncode == 0, built.stderr
    [wheel] = (tmp_path / "dist").glob("*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
        z.extractall(tmp_path / "site")
    for f in (REPO / "scenarios").rglob("*.toml"):
        assert f"sim/_bundled/scenarios/{f.relative_to(REPO / 'scenarios').as_posix()}" in names
    for f in (REPO / "experiments").glob("*.toml"):
        assert f"sim/_bundled/experiments/{f.name}" in names
    empty = tmp_path / "empty"
    empty.mkdir()
    env = {**os.environ, "PYTHONPATH": str(tmp_path / "site")}
    code = ("import json, sys; from sim.cli import main; import sim; "
            "assert sim.__file__.startswith(sys.argv[1]), sim.__file__; "
            "sys.exit(main(['run', 'idlib_2020_moscow', '--runs', '50', '--horizon', '6', '--jobs', '1', "
            "'--no-report', '--json', '--out', 'r']))")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "site")], cwd=empty, env=env,
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["scenario"] == "idlib_2020_moscow"
    code = ("import sys; from sim.experiment import load_experiment; "
            "e = load_experiment('four_factors_sobol'); print(e.path, e.scenario.name)")
    out = subprocess.run([sys.executable, "-c", code], cwd=empty, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert "_bundled/experiments/four_factors_sobol.toml idlib_2021_baseline" in out.stdout


# --- backtest's default directory ---------------------------------------------------------------------

def test_backtest_writes_under_results_backtest_by_default(tmp_path, monkeypatch, capsys):
    import sim.cli
    data = json.loads((REPO / "results" / "reference" / "backtest" / "backtest.json").read_text())
    data.pop("manifest", None)

    import sim.backtest
    import sim.calibration

    class Cal:
        seed, particles, replications, predictive_replications = 17, 1, 1, 1
    # the fit and the backtest itself are tested elsewhere (tests/test_calibration.py, tests/test_backtest.py):
    # here only where the command writes
    monkeypatch.setattr(sim.calibration, "load_calibration", lambda *a, **k: (Cal(), [], []))
    monkeypatch.setattr(sim.calibration, "run_smc", lambda *a, **k: None)
    monkeypatch.setattr(sim.backtest, "backtest", lambda result, ex, **k: data)
    monkeypatch.chdir(tmp_path)
    assert main(["backtest", "--quiet", "--no-report"]) == 0
    [out] = (tmp_path / "results" / "backtest").iterdir()
    assert (out / "backtest.json").is_file() and (out / "datadictionary.csv").is_file()
    assert not (tmp_path / "results" / "reference").exists()


# --- progress off a terminal ---------------------------------------------------------------------------

def test_progress_off_a_terminal_is_a_line_every_few_seconds(monkeypatch):
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    now = [0.0]
    with _progress(False, 10_000, "replications", tty=False, interval=5.0, clock=lambda: now[0],
                   heartbeat=False) as update:
        for block in range(1, 11):                   # a block of 1,000 every 2 seconds
            now[0] += 2.0
            update(block * 1000, 10_000)
    lines = err.getvalue().splitlines()
    # lines at 6, 12 and 18 s (at least 5 s apart), then the closing line
    assert lines == ["ceasefire: 3,000 of 10,000 replications (30%), 6 s",
                     "ceasefire: 6,000 of 10,000 replications (60%), 12 s",
                     "ceasefire: 9,000 of 10,000 replications (90%), 18 s",
                     "ceasefire: 10,000 of 10,000 replications (100%), 20 s"]
    err.truncate(0)
    with _progress(True, 10, "replications", tty=False, heartbeat=False) as update:
        assert update is None                        # --quiet: nothing
    assert err.getvalue() == ""


# --- datadictionary.csv, runs.csv of a comparison, Parquet ------------------------------------------------

def _dictionary(directory: Path) -> dict[tuple[str, str], dict]:
    with open(directory / "datadictionary.csv", newline="") as fh:
        return {(r["file"], r["column"]): r for r in csv.DictReader(fh)}


def _csv_columns(directory: Path) -> set[tuple[str, str]]:
    cols = set()
    for path in directory.rglob("*.csv"):
        if path.name != "datadictionary.csv":
            with open(path, newline="") as fh:
                cols |= {(path.relative_to(directory).as_posix(), c) for c in next(csv.reader(fh))}
    return cols


def test_every_csv_column_is_in_the_data_dictionary(tmp_path):
    # two scenarios on one posterior, so the credible-interval columns are written too
    assert main(["compare", "doc000_anxious_continuation", "doc000_renewed_ground_campaign", "--runs", "100",
                 "--horizon", "12", "--jobs", "1", "--out", str(tmp_path / "c"), "--no-report", "--quiet"]) == 0
    for role in ("base", "other"):
        with open(tmp_path / "c" / role / "runs.csv", newline="") as fh:
            assert len(list(csv.DictReader(fh))) == 100
    dirs = [tmp_path / "c", *[p for p in (REPO / "results" / "reference").iterdir() if p.is_dir()]]
    for d in dirs:
        described = _dictionary(d)
        assert _csv_columns(d) == set(described), d
        assert all(r["meaning"] != "(undocumented)" and r["unit"] != "(undocumented)" for r in described.values()), d
    grid = _dictionary(REPO / "results" / "reference" / "sweep_deterrence_vs_interest_grid")
    assert grid[("design.csv", "turkish_deterrence")]["unit"].startswith("index 0-1")
    assert grid[("outcomes.csv", "p_initiated_by_regime_ci_low")]["unit"] == "probability (0-1)"


def test_replications_as_parquet(tmp_path):
    pq = pytest.importorskip("pyarrow.parquet", reason='Parquet output needs pyarrow: pip install ".[parquet]"')
    exp = tmp_path / "e.toml"
    exp.write_text(f'name = "e"\nscenario = "{MOSCOW.as_posix()}"\nsampler = "latin"\npoints = 6\nreplications = 20\n'
                   f'horizon_months = 6\nkeep_replications = true\n\n'
                   f'[factors.d]\npath = "actors.turkey.deterrence"\nlow = 0.2\nhigh = 1.0\n')
    for jobs, fmt in (("1", "csv"), ("1", "parquet"), ("2", "parquet")):
        assert main(["sweep", str(exp), "--out", str(tmp_path / f"{fmt}{jobs}"), "--jobs", jobs, "--no-report",
                     "--quiet", "--replications-format", fmt]) == 0
    assert (tmp_path / "parquet1" / "replications.parquet").read_bytes() == \
        (tmp_path / "parquet2" / "replications.parquet").read_bytes()       # identical for any --jobs
    assert not (tmp_path / "parquet1" / "replications.csv").exists()
    table = pq.read_table(tmp_path / "parquet1" / "replications.parquet").to_pydict()
    with open(tmp_path / "csv1" / "replications.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 120 and table["point"] == [int(r["point"]) for r in rows]
    assert table["months_to_collapse"] == pytest.approx([float(r["months_to_collapse"]) for r in rows], rel=1e-5)
    assert table["initiator"] == [r["initiator"] for r in rows]
    described = _dictionary(tmp_path / "parquet1")
    assert {("replications.parquet", c) for c in table} <= set(described)


def test_readme_quick_start_is_two_commands_after_the_venv_and_python_prose():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    section = text.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    prose, block = section.split("```", 2)[:2]
    assert [line for line in block.splitlines() if line.strip()] == [
        'pip install . && ceasefire run scenarios/idlib_2020_moscow.toml',
        'pip install ".[test]" && python -m pytest -q']
    assert "Python 3.11" in prose and "virtual environment" in prose
    # the documented experiment file is complete and valid
    example = text.split("### Experiment files", 1)[1].split("```toml", 1)[1].split("```", 1)[0]
    from sim.experiment import load_experiment
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "experiments").mkdir()
        path = Path(tmp) / "experiments" / "example.toml"
        path.write_text(example.replace('"../scenarios/idlib_2020_moscow.toml"', f'"{MOSCOW.as_posix()}"'))
        loaded = load_experiment(path)
    e = loaded.experiment
    assert e.sampler == "latin" and list(e.factors) == ["turkish_deterrence", "russian_interest"]
    assert e.factors["russian_interest"].distribution == "triangular"


@pytest.mark.parametrize("args", [["--from", "9"], ["--from", "x"], ["--from"]])
def test_regenerate_script_refuses_a_bad_step_before_running_anything(args, tmp_path):
    """results/regenerate.sh --from STEP resumes a multi-hour job; a bad step must stop it at once with exit 2
    and one message, not start the calibrations."""
    script = REPO / "results" / "regenerate.sh"
    fake_bin = tmp_path / "bin"
    fake_bin.mkdir()
    marker = tmp_path / "ran"
    (fake_bin / "ceasefire").write_text(f"#!/bin/sh\ntouch {marker}\n")
    (fake_bin / "ceasefire").chmod(0o755)
    env = dict(os.environ, PATH=f"{fake_bin}{os.pathsep}{os.environ.get('PATH', '')}")
    out = subprocess.run(["bash", str(script), *args], capture_output=True, text=True, env=env)
    assert out.returncode == 2
    assert "--from takes a step number, 1 to 8" in out.stderr
    assert not marker.exists()
