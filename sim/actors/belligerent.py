"""Belligerent: holds territory and fights; shells across the line and may launch a ground offensive."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent
from sim.incidents import poisson_from_uniform


# A defending line counts as having given way once its defensive power has fallen by a quarter
# since the start (exhaustion, forces drawn away, allies and patron air withdrawn).
LINE_WEAKENED = 0.75


class BelligerentAgent(ActorAgent):
    role = "belligerent"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        r = model.replications
        self.recent_incidents = np.zeros(r)      # incidents suffered, fading with memory_months
        self.incoming_now = np.zeros(r)          # incidents suffered this step
        self.violations_now = np.zeros(r, dtype=np.int32)
        self.violations = np.zeros(r, dtype=np.int32)
        self.offensive_steps: dict[str, np.ndarray] = {}
        self.covered: dict[str, np.ndarray] = {}

    def link(self) -> None:
        m = self.model
        self.opponents = [m.actors[k] for k in self.spec.opposes]
        self.patrons = [a for a in m.patrons if self.key in a.spec.backs]
        self.guarantors = [a for a in m.guarantors if self.key in a.spec.protects]
        self.supporters = [a for a in m.supporters if a.spec.supports == self.key]
        self.pretexts = [a for a in m.pretexts if a.spec.hosted_by == self.key]
        self.follows_economy = self.key in m.scenario.processes.economy.affects
        self.drawn_by_other_fronts = self.key in m.scenario.processes.other_fronts.affects
        for target in self.opponents:
            self.offensive_steps[target.key] = np.zeros(m.replications, dtype=np.int32)
            self.covered[target.key] = np.zeros(m.replications, dtype=bool)
        self._refresh_capacity()
        self._defence_at_start = self.defensive_power()

    # --- state -------------------------------------------------------------------------------
    def update_state(self) -> None:
        """Exhaustion follows economic stress (doc 000 factor 3); readiness follows its trend (doc 002)."""
        m = self.model
        if self.follows_economy:
            rate = m.processes.economy.exhaustion_rate
            self.exhaustion += rate * m.dt * (m.processes.stress - self.exhaustion)
            np.clip(self.exhaustion, 0.0, 1.0, out=self.exhaustion)
        self.readiness = np.clip(self.readiness + self.readiness_growth * m.dt / 12.0, 0.0, 1.0)
        fade = np.exp(-m.dt / m.dynamics.memory_months)
        self.recent_incidents = self.recent_incidents * fade + self.incoming_now
        self.incoming_now = np.zeros(m.replications)
        for covered in self.covered.values():
            covered[:] = False
        self._refresh_capacity()

    def _refresh_capacity(self) -> None:
        # Readiness and power change only here and through events, which come before this in a
        # step; computing them once per step keeps per-step overhead off the hot path.
        drawn = self.model.processes.front_draw if self.drawn_by_other_fronts else 0.0
        cut = self.model.dynamics.exhaustion_effect * self.exhaustion
        self._effective_readiness = self.readiness * (1.0 - cut) * (1.0 - drawn)
        power = self.strength
        for s in self.supporters:
            power = power + s.contribution()
        self._own_power = power
        self._grievance = -np.expm1(-self.recent_incidents / self.model.dynamics.grievance_scale)

    def effective_readiness(self):
        """Readiness cut by exhaustion (up to exhaustion_effect) and by forces drawn to other fronts
        (doc 000 factor 3)."""
        return self._effective_readiness

    def own_power(self):
        """Its own strength plus what its supporters commit."""
        return self._own_power

    def defensive_power(self):
        """Holding a line needs less readiness than attacking; patrons add defensive air."""
        power = self.own_power() * (0.5 + 0.5 * self.effective_readiness())
        for p in self.patrons:
            power = power + p.available_air()
        return power

    def guarantor_shield(self):
        """Deterrence of the guarantors protecting this side, weighted by their resolve (doc 000 factor 1)."""
        shield = 0.0
        for g in self.guarantors:
            shield = shield + g.deterrence * (0.5 + 0.5 * g.resolve)
        return shield

    def grievance(self):
        """0-1: how much recent attacks by the other side push it to answer (doc 002)."""
        return self._grievance

    def advantage_over(self, target, covered):
        """Share of the attacker in the balance of power across this line, 0-1."""
        attack = self.own_power() * self.effective_readiness()
        if self.patrons:
            air = sum(p.available_air() for p in self.patrons)
            attack = attack + np.where(covered, air, 0.0)
        return attack / (attack + target.defensive_power() + target.guarantor_shield() + 1e-9)

    # --- actions -----------------------------------------------------------------------------
    def commit_violations(self) -> None:
        """Shelling and raids across the line while the ceasefire holds (ladder rung 1)."""
        m = self.model
        d = m.dynamics
        rate = d.violation_rate * self.violation_propensity * (0.5 + 0.5 * self.effective_readiness()) \
            * (1.0 + self.grievance())
        self.violations_now = poisson_from_uniform(self.uniform("violations"), rate * m.dt)
        self.violations += self.violations_now * m.holding
        share = self.violations_now / max(len(self.opponents), 1)
        for target in self.opponents:
            target.incoming_now += share

    def decide_offensive(self) -> None:
        """Launch or continue a ground offensive across each line (ladder rung 3).

        Hazard per month = offensive_rate * ambition * effective readiness * advantage^2
        * permission * (1 + grievance_weight * grievance). Permission is the patron's air cover when
        the belligerent needs it (doc 000: no regime offensive without Russian air cover), and
        otherwise the slack its own guarantors leave (1 - restraint).
        """
        m = self.model
        d = m.dynamics
        for target in self.opponents:
            covered = self.covered[target.key]
            if self.spec.needs_air_cover:
                permission = covered.astype(float)
            else:
                permission = 1.0
                for g in self.guarantors:
                    permission = permission * (1.0 - g.restraint)
            advantage = self.advantage_over(target, covered)
            hazard = d.offensive_rate * self.ambition * self.effective_readiness() * advantage ** 2 \
                * permission * (1.0 + d.grievance_weight * self.grievance())
            launch = self.uniform(f"offensive>{target.key}") < -np.expm1(-hazard * m.dt)
            steps = self.offensive_steps[target.key]
            ongoing = steps > 0
            steps += ongoing | launch

    def halt_offensive(self, target_key: str, halted) -> None:
        steps = self.offensive_steps[target_key]
        steps[halted] = 0

    def escalation_level(self):
        """Rung of the escalation ladder: 0 hold, 1 violations, 2 limited escalation, 3 ground offensive."""
        level = np.where(self.violations_now > 0, 1, 0)
        for p in self.patrons:
            level = np.where(p.strikes_now > 0, np.maximum(level, 2), level)
        for steps in self.offensive_steps.values():
            level = np.where(steps > 0, 3, level)
        return level

    def trigger_against(self, target):
        """The proximate trigger of a collapse this belligerent initiates, read from the state."""
        m = self.model
        codes = m.trigger_codes
        if self.spec.needs_air_cover:
            pretext = sum((p.salience for p in target.pretexts), np.zeros(m.replications))
            crisis = m.processes.months_since_crisis < m.dynamics.memory_months
            return np.where(crisis, codes["cross_theatre_crisis"],
                            np.where(pretext > 0.1, codes["spoiler_pretext"], codes["territorial_ambition"]))
        # doc 002: in 2024 the regime's line of conscripts gave way, its allies and Russian air thin
        weakened = target.defensive_power() < LINE_WEAKENED * target._defence_at_start
        outweighs = self.advantage_over(target, self.covered[target.key]) > 0.5
        answered = self.grievance() > 0.35
        return np.where(weakened | outweighs, codes["defending_line_collapse"],
                        np.where(answered, codes["attacks_answered"], codes["opportunity"]))
