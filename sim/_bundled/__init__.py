"""The bundled scenarios and experiments, installed with the package.

In an installed copy, ``scenarios/`` and ``experiments/`` of the source tree are mapped here (see
``setup.py``), keeping their layout, so relative references between them
(``base = "calibrated_syria_as_of_2020-03-06.toml"``, ``scenario = "../scenarios/..."``) still resolve.
In a source checkout or an editable install this folder has no copies; see :mod:`sim.bundled`.
"""
