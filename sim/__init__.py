"""ceasefire-sim: scenario simulation of ceasefire durability.

    import sim
    moscow = sim.load_scenario("idlib_2020_moscow")          # a path, or a bundled scenario's name
    result = sim.run(moscow, runs=2000, seed=1)
    result.summary()["p_collapse"]["12"]
    cooler = sim.variant(moscow, {"actors.russia.interest_in_guarantor": 0.4}, name="russia_cools")
    [c] = sim.compare(moscow, [cooler], runs=2000, seed=1)
    sim.save(c, "results/compare/cooler"); sim.report("results/compare/cooler")
"""

__version__ = "0.1.0"

import sim.report as _report_module  # noqa: E402  (made callable below: sim.report(dir) writes the page)
from sim.api import compare, run, save, sweep, variant  # noqa: E402
from sim.api import report as _write_report  # noqa: E402
from sim.experiment import load_experiment  # noqa: E402
from sim.scenario import InputError, load_scenario  # noqa: E402


class _ReportModule(type(_report_module)):
    """``sim.report`` is both the report module and the function ``sim.report(directory)``.

    Importing a submodule sets it as an attribute of its package, so a plain function named
    ``report`` here would be replaced by the module as soon as anything imported ``sim.report``.
    Making the module callable keeps both ``sim.report(dir)`` and ``sim.report.write_report`` working.
    """

    def __call__(self, directory, *, open_browser: bool = False):
        """Write ``directory/report.html`` for a result directory and return its path."""
        return _write_report(directory, open_browser=open_browser)


_report_module.__class__ = _ReportModule
report = _report_module

__all__ = ["InputError", "compare", "load_experiment", "load_scenario", "report", "run", "save", "sweep",
           "variant", "__version__"]
