"""The Mesa model: builds the declared actors, orders the step, detects collapse on each front.

One model instance advances a whole batch of replications: every agent attribute is an array over
replications, and randomness comes from named streams (``sim.rng``), one per random process.
The model knows nothing of files, statistics or the command line.
"""

from __future__ import annotations

import numpy as np

from sim.mesafix import mesa  # Mesa's agent and model alone, and its Agent._ids made weak (sim.mesafix)

from sim.actors import (AGENT_CLASSES, BelligerentAgent, GuarantorAgent, MediatorAgent, MonitorAgent, PatronAgent,
                        PretextAgent, SupporterAgent)
from sim.agreement import AgreementState
from sim.draws import setting_distributions
from sim.fronts import FrontLine
from sim.outcomes import NOT_COLLAPSED, TRIGGERS  # noqa: F401 - part of this module's interface
from sim.processes import EventSchedule, ExogenousProcesses, ParameterSet
from sim.rng import BLOCK_SIZE
from sim.scenario import get_path
from sim.schema import DAYS_PER_MONTH, Scenario

EVENT_KEY_PREFIX = "events."


class CeasefireModel(mesa.Model):
    """A ceasefire under pressure, for ``streams.size`` replications at once.

    Args:
        scenario: a validated scenario.
        streams: named random streams (``sim.rng.BlockStreams`` or ``SingleReplicationStreams``).
        horizon_months: months to simulate (default: the scenario's horizon).
        overrides: key path -> value or array over replications (sweep factors, parameter draws, drawn
            settings). ``events.<name>.month`` and ``events.<name>.set.<key path>`` override an event.
    """

    def __init__(self, scenario: Scenario, streams, horizon_months: float | None = None,
                 overrides: dict[str, np.ndarray | float] | None = None):
        # Mesa's own generators are never used: every draw comes from a named stream.
        super().__init__(rng=0)
        self.scenario = scenario
        self.dt = scenario.dt_months           # the current step's length in months (set each step)
        self.last_dt = self.dt                 # the previous step's length (for what was counted in it)
        self.month_end = 0.0
        self.streams = streams
        self.replications = streams.size
        self._overrides = dict(overrides or {})
        data = scenario.model_dump()
        for key in self._overrides:
            if not key.startswith(EVENT_KEY_PREFIX):
                get_path(data, key)
        undrawn = [k for k in setting_distributions(scenario) if k not in self._overrides]
        if undrawn:
            raise ValueError(f"settings given as distributions need drawn values (a sim.draws.DrawPlan): "
                             f"{', '.join(undrawn)}")
        self.horizon_months = float(horizon_months if horizon_months is not None else scenario.horizon_months)
        self.dynamics = ParameterSet(self, "dynamics", scenario.dynamics)
        # the unmeasured fragility of this ceasefire (a frailty), drawn once at signing per replication
        frailty_sd = np.asarray(self.dynamics.case_frailty_sd, dtype=float)
        self.frailty = np.exp(frailty_sd * streams.normal("case_frailty")) if np.any(frailty_sd > 0) else 1.0
        self.processes = ExogenousProcesses(self)
        self.events = EventSchedule(self)
        self.months_elapsed = 0.0

        # one agent per role an actor holds; lookups by role and key
        self.roles: dict[str, dict[str, object]] = {role: {} for role in AGENT_CLASSES}
        self.actor_agents: dict[str, list] = {}
        for key, spec in scenario.actors.items():
            for role in spec.roles:
                agent = AGENT_CLASSES[role](self, key, spec)
                self.roles[role][key] = agent
                self.actor_agents.setdefault(key, []).append(agent)
        self.belligerent = self.roles["belligerent"]
        self.guarantor = self.roles["guarantor"]
        self.patron = self.roles["patron"]
        self.belligerents: list[BelligerentAgent] = list(self.belligerent.values())
        self.guarantors: list[GuarantorAgent] = list(self.guarantor.values())
        self.patrons: list[PatronAgent] = list(self.patron.values())
        self.pretexts: list[PretextAgent] = list(self.roles["pretext"].values())
        self.supporters: list[SupporterAgent] = list(self.roles["supporter"].values())
        self.monitors: list[MonitorAgent] = list(self.roles["monitor"].values())
        self.mediators: list[MediatorAgent] = list(self.roles["mediator"].values())
        self.agreement = AgreementState(self)

        self.fronts: list[FrontLine] = [FrontLine(self, i, name, sides, linked)
                                        for i, (name, sides, linked) in enumerate(scenario.front_list())]
        by_name = {f.name: f for f in self.fronts}
        for f in self.fronts:
            for other in f.linked_names:
                by_name[other].linked_to.append(f)
        self.front_of = {}
        for f in self.fronts:
            a, b = f.sides
            self.front_of[a, b] = self.front_of[b, a] = f

        # belligerents first: patrons, guarantors and monitors read their lines of contact
        for agent in sorted(self.agents, key=lambda a: a.role != "belligerent"):
            agent.link()
        for agent in (*self.belligerents, *self.guarantors):
            agent.record_start()

        self.initiators = [b.key for b in self.belligerents] + [
            f"clash:{g.key}-{p.key}" for g in self.guarantors for p in g.rival_patrons]
        self.initiator_codes = {name: i for i, name in enumerate(self.initiators)}
        self.trigger_codes = {name: i for i, name in enumerate(TRIGGERS)}

        r = self.replications
        for block, n in getattr(streams, "blocks", []):
            if n > BLOCK_SIZE:
                raise ValueError(f"a block holds at most {BLOCK_SIZE} replications, not {n}")
        self.holding = np.ones(r, dtype=bool)        # no front has collapsed yet
        self.active = np.ones(r, dtype=bool)         # some front still holds
        self.collapse_month = np.full(r, np.nan)
        self.initiator = np.full(r, -1, dtype=np.int16)
        self.trigger = np.full(r, -1, dtype=np.int16)
        # Steps past the horizon let an offensive launched just before it prove itself sustained.
        self.step_ends = scenario.step_ends(self.horizon_months, float(np.max(self.dynamics.sustain_days)))
        self.n_steps = int(self.step_ends.size)

    # --- parameters --------------------------------------------------------------------------
    def override(self, key: str, default):
        return self._overrides.get(key, default)

    def set_parameter(self, key: str, value, where=None) -> None:
        """Apply a scheduled event's change (everywhere, or where the mask ``where`` is true)."""
        parts = key.split(".")
        if parts[0] == "actors":
            for agent in self.actor_agents[parts[1]]:
                if parts[2] in agent.parameter_names:
                    agent.set_parameter(parts[2], value, where)
        elif parts[0] == "dynamics":
            self.dynamics.set(parts[1], value, where)
        elif parts[0] == "processes":
            self.processes.tables[parts[1]].set(parts[2], value, where)

    # --- context the agents read -------------------------------------------------------------
    def monitor_factor(self, side, targets, effect):
        """prod over monitors watching ``side`` or one of ``targets`` of (1 - effect * presence)."""
        factor = 1.0
        for m in self.monitors:
            if m.watches(side) or any(m.watches(t) for t in targets):
                factor = factor * (1.0 - effect * m.presence)
        return factor

    def mediation_factor(self, side):
        """prod over mediators pressing ``side`` of (1 - mediation_effect * leverage)."""
        factor = 1.0
        for m in self.mediators:
            if m.presses(side):
                factor = factor * (1.0 - self.dynamics.mediation_effect * m.leverage)
        return factor

    # --- the step ----------------------------------------------------------------------------
    def step(self) -> None:
        """One step of ``step_days``, in the order MODEL.md documents."""
        k = self.steps - 1
        self.months_elapsed = float(self.step_ends[k - 1]) if k > 0 else 0.0
        month_end = self.month_end = float(self.step_ends[k])
        self.last_dt = self.dt
        self.dt = month_end - self.months_elapsed
        self.events.apply_due(month_end)
        # 1. the world, the agreement, arms, capacities, postures
        self.processes.advance()
        self.agreement.advance(month_end)
        self._each(self.patrons, "arm_clients")
        self._each(self.belligerents, "update_state")
        self._each(self.guarantors, "update_posture")
        self._each(self.monitors, "withdraw")
        # 2. incidents and the patrons' campaigns
        self._each(self.pretexts, "attack_patrols")
        self._each(self.belligerents, "commit_violations")
        self._each(self.patrons, "decide_campaigns")
        self._each(self.patrons, "strike_from_air")
        # 3. offensives and the answers to them
        self._each(self.belligerents, "decide_offensive")
        self._each(self.guarantors, "retaliate")
        self._each(self.patrons, "defend_clients")
        self._each(self.guarantors, "confront_patrons")
        self.detect_collapse(k)

    @staticmethod
    def _each(agents, method: str) -> None:
        for agent in agents:
            getattr(agent, method)()

    def detect_collapse(self, k: int) -> None:
        """A front collapses when a ground offensive across it has been sustained ``sustain_days``; a direct
        guarantor-patron clash collapses every front.

        The time of collapse is the end of the step in which the sustained offensive was launched. Where two
        offensives across one front are sustained in the same step, the first belligerent in declaration
        order is recorded. The scenario collapses with its first front.
        """
        sustain = self.dynamics.sustain_days - 1e-9
        for attacker in self.belligerents:
            for target in attacker.opponents:
                front = self.front_of[attacker.key, target.key]
                hit = front.holding & attacker.offensive[target.key] & (attacker.offensive_days[target.key] >= sustain)
                if hit.any():
                    self._collapse(front, hit, attacker.launch_month[target.key], self.initiator_codes[attacker.key],
                                   attacker.trigger_against(target))
        for guarantor in self.guarantors:
            for patron in guarantor.rival_patrons:
                hit = self.active & guarantor.clash_now[patron.key]
                if hit.any():
                    crisis = self.processes.months_since_crisis < self.dynamics.memory_months
                    trigger = np.where(crisis, self.trigger_codes["cross_theatre_crisis"],
                                       self.trigger_codes["strike_on_guarantor_posts"])
                    code = self.initiator_codes[f"clash:{guarantor.key}-{patron.key}"]
                    for front in self.fronts:
                        self._collapse(front, hit & front.holding, np.full(self.replications, self.month_end),
                                       code, trigger)

    def _collapse(self, front: FrontLine, hit, month, initiator: int, trigger) -> None:
        hit = hit & (np.broadcast_to(month, hit.shape) <= self.horizon_months + 1e-9)
        if not hit.any():
            return
        front.record(hit, month, initiator, trigger)
        first = hit & self.holding
        self.collapse_month[first] = np.broadcast_to(month, hit.shape)[first]
        self.initiator[first] = initiator
        self.trigger[first] = np.broadcast_to(trigger, hit.shape)[first]
        self.holding &= ~hit
        self.active = np.zeros(self.replications, dtype=bool)
        for f in self.fronts:
            self.active |= f.holding

    # --- stopping replications that have ended ----------------------------------------------
    def compact(self, keep: np.ndarray) -> None:
        """Go on with the replications ``keep`` (indices) only: every per-replication array of the model,
        its agents, fronts, processes, agreement, events and streams is cut down to them. The runner has
        already read the outcomes of the others, which can no longer change."""
        r = self.replications
        objects = [self, *self.agents, *self.fronts, self.processes, self.dynamics, self.agreement,
                   *self.processes.tables.values()]
        for obj in objects:
            _take(obj, keep, r)
        self.events.take(keep, r)
        self.streams.select(keep)
        self.replications = int(len(keep))

    # --- what the runner reads ---------------------------------------------------------------
    def state_snapshot(self) -> dict[str, np.ndarray]:
        """The main state variables, each an array over replications (for the monthly fan charts)."""
        snap = {"tension": self.processes.tension, "economic_stress": self.processes.stress}
        for b in self.belligerents:
            snap[f"exhaustion.{b.key}"] = b.exhaustion
            snap[f"readiness.{b.key}"] = b.effective_readiness()
            snap[f"strength.{b.key}"] = b.strength
        for g in self.guarantors:
            snap[f"deterrence.{g.key}"] = g.deterrence
            snap[f"restraint.{g.key}"] = g.restraint_now
            for p, f in g.friction.items():
                snap[f"friction.{g.key}-{p}"] = f
        for p in self.patrons:
            on = np.zeros(self.replications, dtype=bool)
            for c in p.campaign.values():
                on |= c
            snap[f"campaign.{p.key}"] = on.astype(float)
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


NOT_PER_REPLICATION = {"step_ends", "_overrides"}


def _take(obj, keep: np.ndarray, r: int) -> None:
    """Cut every per-replication array attribute of ``obj`` (and every such array in a dict attribute)."""
    for name, value in list(vars(obj).items()):
        if name in NOT_PER_REPLICATION:
            continue
        if isinstance(value, np.ndarray) and value.ndim >= 1 and value.shape[0] == r:
            setattr(obj, name, value[keep])
        elif isinstance(value, dict):
            for key, item in value.items():
                if isinstance(item, np.ndarray) and item.ndim >= 1 and item.shape[0] == r:
                    value[key] = item[keep]
