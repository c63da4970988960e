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
import threading
import types

_INIT_DUNDERS = frozenset({"__all__", "__version__", "__title__", "__license__", "__copyright__"})
# held while a placeholder is set up or a package's ``__init__`` runs in it (an RLock: that ``__init__`` may ask
# the package for names it has not defined yet, in the same thread)
_LOADING = threading.RLock()


class WholeOnDemand(types.ModuleType):
    """A package with only some submodules loaded; anything else it is asked for runs its own ``__init__``
    first, once. Probes for other dunder names (``__warningregistry__``, ``__wrapped__``: tools sweeping every
    module) answer "none" without loading the rest. A thread that asks while another runs the ``__init__`` waits
    for it to finish instead of finding the package half made."""

    def __getattr__(self, name):
        state = self.__dict__.get("_whole_state")
        if state == "loaded" or (name.startswith("__") and name.endswith("__") and name not in _INIT_DUNDERS):
            raise AttributeError(f"module {self.__name__!r} has no attribute {name!r}")
        with _LOADING:
            state = self.__dict__.get("_whole_state")
            if state == "loading":      # asked by the package's own ``__init__``, still running in this thread
                raise AttributeError(f"partially initialised module {self.__name__!r} has no attribute {name!r}")
            if state is None:
                self.__dict__["_whole_state"] = "loading"
                try:
                    self.__spec__.loader.exec_module(self)
                except BaseException:     # a missing dependency, Ctrl-C: the next access tries again and says why
                    self.__dict__["_whole_state"] = None
                    raise
                self.__dict__["_whole_state"] = "loaded"
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
    return submodule_alone("scipy.special", "_ufuncs")


def submodule_alone(package: str, submodule: str) -> types.ModuleType:
    """``package.submodule``, imported without ``package``'s ``__init__`` where that has not run yet (else the
    ordinary import). Safe from several threads (a command imports the statistics in the background while its
    engine draws): a module that another thread is still initialising is waited for, never returned half made."""
    name = f"{package}.{submodule}"
    module = sys.modules.get(name)
    if module is not None and not getattr(getattr(module, "__spec__", None), "_initializing", False):
        return module
    with _LOADING:
        if on_demand_package(package) is not None:
            try:
                return importlib.import_module(name)
            except Exception:      # laid out differently: the ordinary import, whatever it costs
                discard(package)
        return importlib.import_module(name)     # waits for a module another thread is importing
