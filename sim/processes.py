"""Exogenous processes (cross-theatre tension, the economy, other fronts) and scheduled events."""

from __future__ import annotations

import numpy as np


class ExogenousProcesses:
    """State of the world outside the ceasefire line, batched over replications.

    Each process is a mean-reverting index in [0, 1] with Gaussian monthly shocks and, for tension and
    other fronts, sudden jumps (crises, flare-ups) arriving at a Poisson rate. Each has its own stream.
    """

    def __init__(self, model):
        self.model = model
        r = model.replications
        spec = model.scenario.processes
        self.tension_params = ParameterSet(model, "processes.cross_theatre_tension", spec.cross_theatre_tension)
        self.economy = ParameterSet(model, "processes.economy", spec.economy)
        self.fronts = ParameterSet(model, "processes.other_fronts", spec.other_fronts)
        self.tables = {"cross_theatre_tension": self.tension_params, "economy": self.economy,
                       "other_fronts": self.fronts}
        self.tension = np.broadcast_to(self.tension_params.initial, (r,)).astype(float)
        self.stress = np.broadcast_to(self.economy.initial_stress, (r,)).astype(float)
        self.front_draw = np.broadcast_to(self.fronts.initial, (r,)).astype(float)
        self.months_since_crisis = np.full(r, np.inf)

    def advance(self) -> None:
        self.advance_tension()
        self.advance_economy()
        self.advance_other_fronts()

    def advance_tension(self) -> None:
        """Cross-theatre tension between patron and guarantor ([@seed000] factor 2: Libya, Karabakh)."""
        m, p = self.model, self.tension_params
        crisis = m.streams.uniform("tension_crises") < -np.expm1(-p.crisis_rate / 12.0 * m.dt)
        self.tension = _reverting_step(self.tension, p.mean, p.reversion, p.volatility, m.dt,
                                       m.streams.normal("tension")) + p.crisis_size * crisis
        np.clip(self.tension, 0.0, 1.0, out=self.tension)
        self.months_since_crisis = np.where(crisis, 0.0, self.months_since_crisis + m.dt)

    def advance_economy(self) -> None:
        """Economic stress of sanctioned belligerents ([@seed000] factor 3: sanctions, the currency)."""
        m, p = self.model, self.economy
        self.stress = _reverting_step(self.stress, p.sanctions, p.reversion, p.volatility, m.dt,
                                      m.streams.normal("economy"))
        np.clip(self.stress, 0.0, 1.0, out=self.stress)

    def advance_other_fronts(self) -> None:
        """Forces drawn to other fronts ([@seed000]: ISIS in the Badia, the SDF around Qamishli)."""
        m, p = self.model, self.fronts
        flare = m.streams.uniform("front_flares") < -np.expm1(-p.flare_rate / 12.0 * m.dt)
        self.front_draw = _reverting_step(self.front_draw, p.mean, p.reversion, p.volatility, m.dt,
                                          m.streams.normal("other_fronts")) + p.flare_size * flare
        np.clip(self.front_draw, 0.0, 1.0, out=self.front_draw)


def _reverting_step(x, mean, reversion, volatility, dt, z):
    """Euler step of dx = reversion (mean - x) dt + volatility dW."""
    return x + reversion * (mean - x) * dt + volatility * np.sqrt(dt) * z


class ParameterSet:
    """Numeric parameters of one schema table, with overrides as arrays over replications."""

    def __init__(self, model, prefix: str, spec):
        self._model = model
        for name, value in spec.model_dump().items():
            if isinstance(value, float):
                setattr(self, name, model.override(f"{prefix}.{name}", value))

    def set(self, name: str, value, where=None) -> None:
        """Set a parameter for every replication, or only where the mask ``where`` is true."""
        if where is None:
            setattr(self, name, value)
            return
        r = self._model.replications
        current = np.broadcast_to(np.asarray(getattr(self, name), dtype=float), (r,)).copy()
        current[where] = np.broadcast_to(np.asarray(value, dtype=float), (r,))[where]
        setattr(self, name, current)


class EventSchedule:
    """Scheduled parameter changes, applied at the first step whose span contains the event's month.

    An event's month and values may differ between replications (drawn settings arrive as overrides
    ``events.<name>.month`` and ``events.<name>.set.<key>``); each replication gets its change once.
    """

    def __init__(self, model):
        scenario = model.scenario
        r = model.replications
        self.model = model
        self.pending = []
        for name, event in sorted(scenario.events.items()):
            month = model.override(f"events.{name}.month", scenario.event_month(event))
            values = {key: model.override(f"events.{name}.set.{key}", value) for key, value in event.set.items()}
            month = np.broadcast_to(np.asarray(month, dtype=float), (r,))
            self.pending.append([name, month, values, np.zeros(r, dtype=bool)])
        self.pending.sort(key=lambda item: (float(item[1].min()), item[0]))

    def take(self, keep, r: int) -> None:
        """Keep the pending changes of the replications ``keep`` only (see ``CeasefireModel.compact``)."""
        for item in self.pending:
            item[1] = item[1][keep]
            item[3] = item[3][keep]
            item[2] = {k: (v[keep] if isinstance(v, np.ndarray) and v.ndim and v.shape[0] == r else v)
                       for k, v in item[2].items()}

    def apply_due(self, step_end_month: float) -> list[str]:
        """Apply the changes due before the end of this step; the names of events applied anywhere."""
        applied = []
        for item in self.pending:
            name, month, values, done = item
            due = ~done & (month < step_end_month)
            if not due.any():
                continue
            where = None if due.all() else due
            for key, value in values.items():
                self.model.set_parameter(key, value, where)
            done |= due
            applied.append(name)
        self.pending = [item for item in self.pending if not item[3].all()]
        return applied
