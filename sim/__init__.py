"""ceasefire-sim: scenario simulation of ceasefire durability.

    import sim
    moscow = sim.load_scenario("idlib_2020_moscow")          # a path, or a bundled scenario's name
    result = sim.run(moscow, runs=2000, seed=1)
    result.summary()["p_collapse"]["12"]
    cooler = sim.variant(moscow, {"actors.russia.interest_in_guarantor": 0.4}, name="russia_cools")
    [c] = sim.compare(moscow, [cooler], runs=2000, seed=1)
    sim.save(c, "results/compare/cooler"); sim.report("results/compare/cooler")

The names are imported on first use, so that ``import sim`` (and the command line's ``--help`` or
``validate``) does not pay for Mesa, scipy.stats or matplotlib. ``sim.report`` and ``sim.sweep`` are
both the modules of those names and the API functions (``sim.report(dir)``, ``sim.sweep(experiment,
dir)``): each module makes itself callable when imported (``sim._callable``).
"""

__version__ = "0.1.0"

_LAZY = {"run": "sim.api", "compare": "sim.api", "save": "sim.api", "variant": "sim.api",
         "InputError": "sim.errors", "load_scenario": "sim.scenario", "load_experiment": "sim.experiment"}
_MODULES = ("report", "sweep")

__all__ = ["InputError", "compare", "load_experiment", "load_scenario", "report", "run", "save", "sweep",
           "variant", "__version__"]


def __getattr__(name: str):
    import importlib
    if name in _MODULES:
        return importlib.import_module(f"sim.{name}")     # it is then an attribute of the package
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute '{name}'")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
