"""Three fixes to how Mesa is loaded and run, installed on import; the model imports Mesa through here.

Light import: Mesa's package ``__init__`` imports its data collector (pandas), its continuous space
(scipy.spatial) and networkx, about a second of start-up that every command paid and the model never
uses. Only ``mesa.agent`` and ``mesa.model`` are imported, under a package module that runs Mesa's own
``__init__`` the first time anything else is asked of it (``mesa.DataCollector``, ``from mesa import
space``), so other code sees the whole package (``sim.lightimport``). If Mesa was imported already, or is
not laid out as expected, the ordinary import is used.

Cheap logger names: Mesa names a module's logger from ``inspect.stack()``, which reads the source file of
every frame on the stack and stats every loaded module's file (30-40 ms in a process that has the report's
modules loaded, once per process: each worker too). The same name, the caller's ``__name__``, is read from the
caller's frame instead.

Weak model counters: ``mesa.Agent._ids`` is a class-level ``defaultdict`` keyed by the model, so each
finished batch's model, its agents and their arrays stay in memory (about 0.45 KB per replication;
45 MB per 100,000 runs in one process). Installed here: the same per-model counters, held by weak
references, so a model is freed when its batch is done. Agents' ids, and so results, are unchanged
(each model still counts from 1).
"""

from __future__ import annotations

import itertools
import sys
import weakref

from sim.lightimport import WholeOnDemand, submodule_alone


def _caller_module_logger(name: str | None = None):
    """``mesa.mesa_logging.create_module_logger`` naming the logger after the calling module as Mesa does, from
    the caller's globals instead of ``inspect.stack()``, which reads the source of every frame on the stack."""
    if name is None:
        name = sys._getframe(1).f_globals["__name__"]
    return _mesa_logging_create(name)


_mesa_logging_create = None


def _name_loggers_cheaply() -> None:
    global _mesa_logging_create
    try:
        logging_module = submodule_alone("mesa", "mesa_logging")
    except ImportError:     # a Mesa laid out differently: its loggers are named its own way
        return
    create = getattr(logging_module, "create_module_logger", None)
    if create is None or create is _caller_module_logger:
        return
    _mesa_logging_create = create
    logging_module.create_module_logger = _caller_module_logger


def _load_mesa():
    if "mesa" in sys.modules:
        return sys.modules["mesa"]
    _name_loggers_cheaply()    # before mesa.agent and mesa.model name their loggers on import
    agent, model = submodule_alone("mesa", "agent"), submodule_alone("mesa", "model")
    package = sys.modules["mesa"]
    if isinstance(package, WholeOnDemand):    # the names the engine asks the package for, without its __init__
        package.__dict__["Agent"], package.__dict__["Model"] = agent.Agent, model.Model
    return package


mesa = _load_mesa()
Agent = mesa.Agent
Model = mesa.Model


class WeakModelCounters(weakref.WeakKeyDictionary):
    """``defaultdict(partial(itertools.count, 1))`` that does not keep its models alive."""

    def __getitem__(self, model):
        try:
            return super().__getitem__(model)
        except KeyError:
            counter = itertools.count(1)
            self[model] = counter
            return counter


def install() -> None:
    current = mesa.Agent.__dict__.get("_ids")
    if isinstance(current, WeakModelCounters):
        return
    counters = WeakModelCounters()
    for model, counter in dict(current or {}).items():  # models made before the import keep their count
        try:
            counters[model] = counter
        except TypeError:
            pass
    mesa.Agent._ids = counters


install()
