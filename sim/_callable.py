"""A submodule that is also the API function of the same name (``sim.report``, ``sim.sweep``).

Importing a submodule sets it as an attribute of its package, so a plain function named ``report`` or
``sweep`` in ``sim`` would be replaced by the module as soon as anything imported it. Each of those
modules instead turns itself into a callable module when imported: ``sim.report(dir)`` calls
``sim.api.report`` and ``sim.report.write_report`` still works.
"""

from __future__ import annotations

import sys
import types


def make_callable(module_name: str, api_function: str) -> None:
    module = sys.modules[module_name]

    class _CallableModule(types.ModuleType):
        def __call__(self, *args, **kwargs):
            from sim import api
            return getattr(api, api_function)(*args, **kwargs)

    module.__class__ = _CallableModule
