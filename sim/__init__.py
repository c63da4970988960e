"""ceasefire-sim: scenario simulation of ceasefire durability.

    from sim import load_scenario, run
    result = run(load_scenario("scenarios/idlib_2020_moscow.toml"), runs=1000, seed=1)
    result.summary()["p_collapse"]["12"]
"""

__version__ = "0.1.0"

from sim.api import run  # noqa: E402
from sim.scenario import InputError, load_scenario  # noqa: E402

__all__ = ["InputError", "load_scenario", "run", "__version__"]
