"""The Mesa model: builds the declared actors, orders the step, detects collapse.

One model instance advances a whole batch of replications: every agent attribute is an array over
replications, and randomness comes from named streams (``sim.rng``), one per random process.
The model knows nothing of files, statistics or the command line.
"""

from __future__ import annotations

import math

import mesa
import numpy as np

from sim.actors import AGENT_CLASSES, BelligerentAgent, GuarantorAgent, PatronAgent, PretextAgent, SupporterAgent
from sim.processes import EventSchedule, ExogenousProcesses, ParameterSet
from sim.scenario import get_path
from sim.schema import Scenario

TRIGGERS = (
    "spoiler_pretext",          # a spoiler attack taken as pretext by the patron's side (doc 004)
    "cross_theatre_crisis",     # a crisis between patron and guarantor elsewhere (doc 000 factor 2)
    "territorial_ambition",     # the patron's side moves for territory with no fresh pretext
    "attacks_answered",         # attacks by the other side answered with an offensive (doc 002)
    "defending_line_collapse",  # the other side's line is too weak to hold (doc 002, 2024)
    "opportunity",              # an offensive of choice by a side no guarantor holds back
    "strike_on_guarantor_posts",  # patron strikes on the guarantor's troops (Balyun, Feb 2020)
)
NOT_COLLAPSED = "none"


class CeasefireModel(mesa.Model):
    """A ceasefire under pressure, for ``streams.size`` replications at once.

    Args:
        scenario: a validated scenario.
        streams: named random streams (``sim.rng.BlockStreams`` or ``SingleReplicationStreams``).
        horizon_months: months to simulate (default: the scenario's horizon).
        overrides: key path -> value or array over replications, for sweeps.
    """

    def __init__(self, scenario: Scenario, streams, horizon_months: float | None = None,
                 overrides: dict[str, np.ndarray | float] | None = None):
        # Mesa's own generators are never used: every draw comes from a named stream.
        super().__init__(rng=0)
        self.scenario = scenario
        self.streams = streams
        self.replications = streams.size
        self._overrides = dict(overrides or {})
        data = scenario.model_dump()
        for key in self._overrides:
            get_path(data, key)
        self.dt = scenario.dt_months
        self.horizon_months = float(horizon_months if horizon_months is not None else scenario.horizon_months)
        self.dynamics = ParameterSet(self, "dynamics", scenario.dynamics)
        self.processes = ExogenousProcesses(self)
        self.events = EventSchedule(scenario)
        self.months_elapsed = 0.0

        self.actors = {key: AGENT_CLASSES[spec.role](self, key, spec) for key, spec in scenario.actors.items()}
        by_role = self.agents_by_type
        self.guarantors = list(by_role.get(GuarantorAgent, []))
        self.patrons = list(by_role.get(PatronAgent, []))
        self.belligerents = list(by_role.get(BelligerentAgent, []))
        self.pretexts = list(by_role.get(PretextAgent, []))
        self.supporters = list(by_role.get(SupporterAgent, []))
        # Belligerents first: patrons and guarantors read their lines of contact.
        for agent in sorted(self.actors.values(), key=lambda a: a.role != "belligerent"):
            agent.link()

        self.initiators = [b.key for b in self.belligerents] + [
            f"clash:{g.key}-{p.key}" for g in self.guarantors for p in g.rival_patrons]
        self.initiator_codes = {name: i for i, name in enumerate(self.initiators)}
        self.trigger_codes = {name: i for i, name in enumerate(TRIGGERS)}

        r = self.replications
        self.holding = np.ones(r, dtype=bool)
        self.collapse_month = np.full(r, np.nan)
        self.initiator = np.full(r, -1, dtype=np.int16)
        self.trigger = np.full(r, -1, dtype=np.int16)
        sustain = np.ceil(np.asarray(self.dynamics.sustain_days) / scenario.step_days)
        self.sustain_steps = np.maximum(sustain, 1).astype(np.int32)
        # Steps past the horizon let an offensive launched just before it prove itself sustained.
        self.n_steps = math.ceil(self.horizon_months / self.dt - 1e-9) + int(np.max(self.sustain_steps))

    # --- parameters --------------------------------------------------------------------------
    def override(self, key: str, default: float):
        return self._overrides.get(key, default)

    def set_parameter(self, key: str, value: float) -> None:
        """Apply a scheduled event's change: actor attribute, process or dynamics parameter."""
        parts = key.split(".")
        if parts[0] == "actors":
            self.actors[parts[1]].set_parameter(parts[2], value)
        elif parts[0] == "dynamics":
            setattr(self.dynamics, parts[1], value)
        elif parts[0] == "processes":
            table = {"cross_theatre_tension": self.processes.tension_params,
                     "economy": self.processes.economy, "other_fronts": self.processes.fronts}[parts[1]]
            setattr(table, parts[2], value)

    # --- the step ----------------------------------------------------------------------------
    def step(self) -> None:
        """One step of ``step_days``, in the order MODEL.md documents."""
        k = self.steps - 1
        by_role = self.agents_by_type
        self.months_elapsed = k * self.dt
        self.events.apply_due(self, (k + 1) * self.dt)
        # 1. exogenous processes
        self.processes.advance()
        self._do(by_role, BelligerentAgent, "update_state")
        # 2. incidents
        self._do(by_role, PretextAgent, "attack_patrols")
        self._do(by_role, BelligerentAgent, "commit_violations")
        self._do(by_role, PatronAgent, "decide_air_cover")
        self._do(by_role, PatronAgent, "strike_from_air")
        # 3. decisions and responses
        self._do(by_role, BelligerentAgent, "decide_offensive")
        self._do(by_role, GuarantorAgent, "respond")
        self._do(by_role, PatronAgent, "defend_clients")
        self._do(by_role, GuarantorAgent, "confront_patrons")
        self.detect_collapse(k)

    @staticmethod
    def _do(by_role, cls, method: str) -> None:
        agents = by_role.get(cls)
        if agents:
            agents.do(method)

    def detect_collapse(self, k: int) -> None:
        """Collapse: a ground offensive sustained ``sustain_days``, or a guarantor-patron clash.

        The time of collapse is the end of the step in which the sustained offensive was launched.
        Where two collapses fall in the same step, the first in declaration order is recorded.
        """
        new = np.zeros(self.replications, dtype=bool)
        for attacker in self.belligerents:
            for target in attacker.opponents:
                steps = attacker.offensive_steps[target.key]
                hit = self.holding & ~new & (steps >= self.sustain_steps)
                if hit.any():
                    launch_end = (k - steps + 2) * self.dt
                    self._record(hit, launch_end, self.initiator_codes[attacker.key],
                                 attacker.trigger_against(target))
                    new |= hit
        for guarantor in self.guarantors:
            for patron in guarantor.rival_patrons:
                hit = self.holding & ~new & guarantor.clash_now[patron.key]
                if hit.any():
                    crisis = self.processes.months_since_crisis < self.dynamics.memory_months
                    trigger = np.where(crisis, self.trigger_codes["cross_theatre_crisis"],
                                       self.trigger_codes["strike_on_guarantor_posts"])
                    self._record(hit, np.full(self.replications, (k + 1) * self.dt),
                                 self.initiator_codes[f"clash:{guarantor.key}-{patron.key}"], trigger)
                    new |= hit

    def _record(self, hit, month, initiator: int, trigger) -> None:
        hit = hit & (month <= self.horizon_months + 1e-9)
        self.collapse_month[hit] = np.broadcast_to(month, hit.shape)[hit]
        self.initiator[hit] = initiator
        self.trigger[hit] = np.broadcast_to(trigger, hit.shape)[hit]
        self.holding &= ~hit

    # --- what the runner reads ---------------------------------------------------------------
    def state_snapshot(self) -> dict[str, np.ndarray]:
        """The main state variables, each an array over replications (for the monthly fan charts)."""
        snap = {"tension": self.processes.tension, "economic_stress": self.processes.stress}
        for b in self.belligerents:
            snap[f"exhaustion.{b.key}"] = b.exhaustion
            snap[f"readiness.{b.key}"] = b.effective_readiness()
        for g in self.guarantors:
            snap[f"deterrence.{g.key}"] = g.deterrence
        return snap

    def incidents_now(self) -> dict[str, np.ndarray]:
        """Counts of this step's incidents, each an array over replications."""
        zero = np.zeros(self.replications, dtype=np.int32)
        return {
            "violations": sum((b.violations_now for b in self.belligerents), zero),
            "air_strikes": sum((p.strikes_now for p in self.patrons), zero),
            "spoiler_attacks": sum((p.attacked_now.astype(np.int32) for p in self.pretexts), zero),
        }

    def incident_totals(self) -> dict[str, np.ndarray]:
        """Incidents counted while the ceasefire held, per replication."""
        zero = np.zeros(self.replications, dtype=np.int32)
        return {
            "violations": sum((b.violations for b in self.belligerents), zero),
            "air_strikes": sum((p.strikes for p in self.patrons), zero),
            "spoiler_attacks": sum((p.attacks for p in self.pretexts), zero),
        }
