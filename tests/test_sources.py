"""The citation audit (`ceasefire validate --citations`): what a file describing a ceasefire at signing promises."""

from pathlib import Path

import numpy as np

from sim.calibration import SMCResult, Space, dynamics_toml, Prior
from sim.sources import audit_file, read_bibliography

ROOT = Path(__file__).resolve().parent.parent
BIB = read_bibliography(ROOT / "docs" / "SOURCES.md")


def _audit(tmp_path, name, text, start=None):
    path = tmp_path / name
    path.write_text(text)
    return audit_file(path, BIB, start)


def test_every_bundled_scenario_and_case_passes_the_audit():
    # through `validate --citations`, which dates each scenario by its start as loaded (a start inherited from a
    # base counts), and audits the calibration fragments without one
    from sim.cli import main
    files = sorted((ROOT / "scenarios").glob("*.toml")) + sorted((ROOT / "scenarios" / "history").glob("*.toml"))
    assert len(files) >= 25
    assert main(["validate", "--citations", *map(str, files)]) == 0


def test_an_uncited_value_an_unknown_key_and_a_later_source_are_each_named(tmp_path):
    import datetime as dt
    text = ('[dynamics]\nhalt_rate = 1.0\nweight_agreement = 2.0    # [@no-such-key]\n'
            'agreement_erosion = 0.5    # [@vehtari-2017-psis-loo]\ncover_scale = 0.3    # judgement: analyst\n')
    problems = _audit(tmp_path, "at_signing.toml", text, dt.date(2010, 1, 1))
    assert len(problems) == 3
    assert "'halt_rate' cites no source" in problems[0] and ":2:" in problems[0]
    assert "[@no-such-key] is not in the bibliography" in problems[1]
    assert "[@vehtari-2017-psis-loo] is dated 2017-09" in problems[2]


def _fragment() -> str:
    prior = Prior("dynamics.halt_rate", "log", 0.1, 10.0)
    space = Space((prior,), (), False, 1.0)
    x = np.linspace(-2, 2, 50).reshape(-1, 1)

    class Cal:
        name, particles = "tiny", 50
    result = SMCResult(Cal, space, [], x, np.zeros((0, 50)), [], 50.0, 7)
    return dynamics_toml(result, "posterior.csv", None)


def test_a_fragment_written_by_calibrate_needs_no_citation_but_a_hand_added_value_does(tmp_path):
    text = _fragment()
    assert "halt_rate = " in text and "90% interval" in text
    assert _audit(tmp_path, "calibrated.toml", text) == []
    problems = _audit(tmp_path, "edited.toml", text + "mediation_effect = 0.5\n")
    assert len(problems) == 1 and "'mediation_effect' cites no source" in problems[0]
    # without the writer's header the fitted lines are claims like any other
    headless = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    assert len(_audit(tmp_path, "copied.toml", headless)) == 1


AGREEMENT_RULES = {"signatory_level": 2, "signatories": 3, "earlier_failures": 4}


def _defining_line(path: Path, key: str) -> tuple[Path, str]:
    """The line that sets ``[agreement].key`` for a case, following its ``base`` chain to the file that sets it."""
    import re
    import tomllib
    while True:
        data = tomllib.loads(path.read_text())
        if key in data.get("agreement", {}):
            lines = [ln for ln in path.read_text().splitlines() if re.match(rf"{key}\s*=", ln)]
            assert len(lines) == 1, f"{path.name}: {key} set on {len(lines)} lines"
            return path, lines[0]
        assert "base" in data, f"{path.name}: no [agreement].{key} in it or its bases"
        path = (path.parent / data["base"]).resolve()


def test_every_case_codes_its_agreement_by_the_rules_of_the_case_format():
    # docs/case-format.md, "Coding the agreement": the level, who is bound and the earlier failures of every case
    # are coded by rules 2-4, and each value's comment names its rule and cites at least one dated source
    cases = sorted((ROOT / "scenarios" / "history").glob("*.toml"))
    assert len(cases) >= 18
    for case in cases:
        for key, rule in AGREEMENT_RULES.items():
            where, line = _defining_line(case, key)
            comment = line.partition("#")[2].lower()
            assert f"rule {rule}" in comment, f"{case.name}: {key} (set in {where.name}) does not name rule {rule}"
            assert "[@" in comment, f"{case.name}: {key} (set in {where.name}) cites no source"
