"""Importing the few submodules of a package the engine uses without the package's ``__init__``, which runs
on demand the first time anything else is asked of the package.

Two packages need it. Mesa's ``__init__`` imports pandas, scipy.spatial and networkx (about a second) for a
model that uses ``mesa.agent`` and ``mesa.model`` only (``sim.mesafix``). ``scipy.special``'s ``__init__``
wraps every special function for the array API, which walks all of numpy's attributes (importing numpy.f2py and
numpy.testing) and parses every docstring: about 0.3 s in each process that draws a normal, for the one compiled
module, ``scipy.special._ufuncs``, that holds the functions themselves (``ndtri``, ``chdtrc``). The functions
called are the same compiled ufuncs either way, so every number is the same.

Other code still sees the whole package: its first access to any other name (``scipy.special.gamma``, ``from
scipy.special import comb``, ``import scipy.stats``) runs the package's own ``__init__`` in the same module
object, once. Where the package was imported already, or is not laid out as expected, the ordinary import is
used.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

_INIT_DUNDERS = frozenset({"__all__", "__version__", "__title__", "__license__", "__copyright__"})


class WholeOnDemand(types.ModuleType):
    """A package with only some submodules loaded; anything else it is asked for runs its own ``__init__``
    first, once. Probes for other dunder names (``__warningregistry__``, ``__wrapped__``: tools sweeping every
    module) answer "none" without loading the rest."""

    def __getattr__(self, name):
        if self.__dict__.get("_whole_loaded") or (
                name.startswith("__") and name.endswith("__") and name not in _INIT_DUNDERS):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        self.__dict__["_whole_loaded"] = True
        try:
            self.__spec__.loader.exec_module(self)
        except BaseException:     # a missing dependency, Ctrl-C: the next access tries again and says why
            self.__dict__["_whole_loaded"] = False
            raise
        return getattr(self, name)


def on_demand_package(package: str) -> WholeOnDemand | None:
    """Put a :class:`WholeOnDemand` ``package`` in ``sys.modules`` (and on its parent, as an import would), so
    that its submodules can be imported without its ``__init__``; None where ``package`` is imported already or
    is not a package found on the path."""
    if package in sys.modules:
        return None
    spec = importlib.util.find_spec(package)    # imports the parents of ``package``
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        return None
    placeholder = WholeOnDemand(package)
    placeholder.__spec__ = spec
    placeholder.__file__ = spec.origin
    placeholder.__path__ = list(spec.submodule_search_locations)
    placeholder.__package__ = package
    placeholder.__loader__ = spec.loader
    sys.modules[package] = placeholder
    parent, _, child = package.rpartition(".")
    if parent:
        setattr(sys.modules[parent], child, placeholder)
    return placeholder


def discard(package: str) -> None:
    """Forget ``package`` and its submodules (a placeholder whose submodules failed to load), so that the
    ordinary import starts afresh."""
    placeholder = sys.modules.get(package)
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]
    parent, _, child = package.rpartition(".")
    if parent and parent in sys.modules and getattr(sys.modules[parent], child, None) is placeholder:
        delattr(sys.modules[parent], child)


def special_functions() -> types.ModuleType:
    """scipy's compiled special functions (``scipy.special._ufuncs``: ``ndtri``, ``chdtrc``, ``_binom_cdf``),
    without running ``scipy.special``'s ``__init__`` if it has not run yet."""
    module = sys.modules.get("scipy.special._ufuncs")
    if module is not None:
        return module
    if on_demand_package("scipy.special") is not None:
        try:
            return importlib.import_module("scipy.special._ufuncs")
        except Exception:      # laid out differently: the ordinary import, whatever it costs
            discard("scipy.special")
    return importlib.import_module("scipy.special._ufuncs")
