"""ceasefire-sim: scenario simulation of ceasefire durability.

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/idlib_2020_moscow.toml"), runs=1000, seed=1)
    result.summary()["p_collapse"]["12"]

The names are imported on first use, so that ``import sim`` (and the command line's ``--help`` or
``validate``) does not pay for Mesa, scipy.stats or matplotlib.
"""

__version__ = "0.1.0"

_LAZY = {"run": "sim.api", "InputError": "sim.scenario", "load_scenario": "sim.scenario"}

__all__ = ["InputError", "load_scenario", "run", "__version__"]


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sim' has no attribute '{name}'")
    import importlib
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
