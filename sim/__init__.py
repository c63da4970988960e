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

import types  # noqa: E402

import sim.report as _report_module  # noqa: E402  (made callable below: sim.report(dir) writes the page)
import sim.sweep as _sweep_module  # noqa: E402  (made callable below: sim.sweep(experiment, dir) runs a sweep)
from sim import api as _api  # noqa: E402
from sim.api import compare, run, save, variant  # noqa: E402
from sim.experiment import load_experiment  # noqa: E402
from sim.scenario import InputError, load_scenario  # noqa: E402


class _CallableModule(types.ModuleType):
    """A submodule that is also the API function of the same name.

    Importing a submodule sets it as an attribute of its package, so plain functions named
    ``report`` and ``sweep`` here would be replaced by the modules ``sim.report`` and ``sim.sweep``
    as soon as anything imported them. Making those modules callable keeps both ``sim.report(dir)``
    and ``sim.report.write_report`` (``sim.sweep(...)`` and ``sim.sweep.design_for``) working.
    """

    _api_function = None

    def __call__(self, *args, **kwargs):
        return getattr(_api, self._api_function)(*args, **kwargs)


class _ReportModule(_CallableModule):
    _api_function = "report"


class _SweepModule(_CallableModule):
    _api_function = "sweep"


_report_module.__class__ = _ReportModule
_sweep_module.__class__ = _SweepModule
report = _report_module
sweep = _sweep_module

__all__ = ["InputError", "compare", "load_experiment", "load_scenario", "report", "run", "save", "sweep",
           "variant", "__version__"]
