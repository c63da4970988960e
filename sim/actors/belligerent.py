"""Belligerent: holds territory and fights; shells across the line and may launch a ground offensive."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent
from sim.incidents import fade_and_add, poisson_from_uniform
from sim.schema import DAYS_PER_MONTH

# A defending line counts as having given way once its defensive power has fallen by a quarter
# since the start (exhaustion, forces drawn away, allies and patron air withdrawn) - trigger labels only.
LINE_WEAKENED = 0.75


class BelligerentAgent(ActorAgent):
    role = "belligerent"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        r = model.replications
        self.recent_incidents = np.zeros(r)      # incidents suffered, fading with memory_months
        self.incoming_now = np.zeros(r)          # incidents suffered this step
        self.incoming_last = np.zeros(r)         # incidents suffered in the previous step (what others react to)
        self.violations_now = np.zeros(r, dtype=np.int32)
        self.violations = np.zeros(r, dtype=np.int32)
        self.offensive: dict[str, np.ndarray] = {}        # an offensive across the line is under way
        self.offensive_days: dict[str, np.ndarray] = {}   # days it has lasted since the end of its launch step
        self.launch_month: dict[str, np.ndarray] = {}     # end of the step in which it was launched
        self.covered: dict[str, np.ndarray] = {}          # a patron's campaign backs it during this step
        self.cover_share: dict[str, np.ndarray] = {}      # share of this step under that campaign

    def link(self) -> None:
        m = self.model
        self.opponents = [m.belligerent[k] for k in self.spec.opposes]
        self.patrons = [a for a in m.patrons if self.key in a.spec.backs]
        self.guarantors = [a for a in m.guarantors if self.key in a.spec.protects]
        self.supporters = [a for a in m.supporters if a.spec.supports == self.key]
        self.pretexts = [a for a in m.pretexts if a.spec.hosted_by == self.key]
        self.mediators = [a for a in m.mediators if self.key in a.spec.mediates]
        self.consent_patrons = [m.patron[k] for k in self.spec.consent_from if k in m.patron]
        if self.spec.needs_air_cover:
            self.consent_patrons = list(dict.fromkeys([*self.consent_patrons, *self.patrons]))
        self.follows_economy = self.key in m.scenario.processes.economy.affects
        self.drawn_by_other_fronts = self.key in m.scenario.processes.other_fronts.affects
        for target in self.opponents:
            self.offensive[target.key] = np.zeros(m.replications, dtype=bool)
            self.offensive_days[target.key] = np.zeros(m.replications)
            self.launch_month[target.key] = np.full(m.replications, np.nan)
            self.covered[target.key] = np.zeros(m.replications, dtype=bool)
            self.cover_share[target.key] = np.zeros(m.replications)
        self._refresh_capacity()

    def record_start(self) -> None:
        """Its defensive power at signing, against which the weakening of its line is measured."""
        self.defence_at_start = self.defensive_power().copy()

    # --- state -------------------------------------------------------------------------------
    def update_state(self) -> None:
        """Exhaustion follows economic stress ([@seed000] factor 3); readiness follows its trend."""
        m = self.model
        if self.follows_economy:
            rate = m.processes.economy.exhaustion_rate
            self.exhaustion += rate * m.dt * (m.processes.stress - self.exhaustion)
            np.clip(self.exhaustion, 0.0, 1.0, out=self.exhaustion)
        self.readiness = np.clip(self.readiness + self.readiness_growth * m.dt / 12.0, 0.0, 1.0)
        self.recent_incidents = fade_and_add(self.recent_incidents, self.incoming_now, m.dt, m.dynamics.memory_months)
        self.incoming_last = self.incoming_now
        self.incoming_now = np.zeros(m.replications)
        for covered in self.covered.values():
            covered[:] = False
        for share in self.cover_share.values():
            share[:] = 0.0
        self._refresh_capacity()

    def _refresh_capacity(self) -> None:
        # Readiness and power change only here and through events and arms, which come before this in
        # a step; computing them once per step keeps per-step overhead off the hot path.
        drawn = self.model.processes.front_draw if self.drawn_by_other_fronts else 0.0
        cut = self.model.dynamics.exhaustion_effect * self.exhaustion
        self._effective_readiness = self.readiness * (1.0 - cut) * (1.0 - drawn)
        power = self.strength
        for s in self.supporters:
            power = power + s.contribution()
        self._own_power = power
        self._defensive_power = None
        self._grievance = -np.expm1(-self.recent_incidents / self.model.dynamics.grievance_scale)

    def effective_readiness(self):
        """Readiness cut by exhaustion (up to exhaustion_effect) and by forces drawn to other fronts
        ([@seed000] factor 3)."""
        return self._effective_readiness

    def own_power(self):
        """Its own strength plus what its supporters commit."""
        return self._own_power

    def defensive_power(self):
        """Holding a line needs less readiness than attacking; patrons add defensive air."""
        if self._defensive_power is None:
            power = self.own_power() * (0.5 + 0.5 * self.effective_readiness())
            for p in self.patrons:
                power = power + p.available_air()
            self._defensive_power = power
        return self._defensive_power

    def line_weakening(self):
        """Share of its defensive power lost since signing, 0-1 ([@seed002]: the line of conscripts gave way)."""
        return np.clip(1.0 - self.defensive_power() / np.maximum(self.defence_at_start, 1e-9), 0.0, 1.0)

    def guarantor_shield(self):
        """Deterrence of the guarantors protecting this side, weighted by their resolve ([@seed000] factor 1)."""
        shield = 0.0
        for g in self.guarantors:
            shield = shield + g.deterrence * (0.5 + 0.5 * g.resolve)
        return shield

    def grievance(self):
        """0-1: how much recent attacks by the other side push it to answer."""
        return self._grievance

    def advantage_over(self, target, covered):
        """Share of the attacker in the balance of forces on the ground across this line, 0-1.

        The guarantor's deterrence is not part of it: it enters the decision to attack once, as a cost
        (see ``decide_offensive`` and ``PatronAgent.incentive``), and the halting of offensives.
        """
        attack = self.own_power() * self.effective_readiness()
        if self.patrons:
            air = sum(p.available_air() for p in self.patrons)
            attack = attack + np.where(covered, air, 0.0)
        return attack / (attack + target.defensive_power() + 1e-9)

    # --- actions -----------------------------------------------------------------------------
    def commit_violations(self) -> None:
        """Shelling and raids across the line while the ceasefire holds (ladder rung 1); monitors deter them."""
        m = self.model
        d = m.dynamics
        rate = d.violation_rate * self.violation_propensity * (0.5 + 0.5 * self.effective_readiness()) \
            * (1.0 + self.grievance()) * m.monitor_factor(self, self.opponents, d.monitor_violation_effect)
        self.violations_now = poisson_from_uniform(self.uniform("violations"), rate * m.dt)
        self.violations += self.violations_now * m.holding
        share = self.violations_now / max(len(self.opponents), 1)
        for target in self.opponents:
            target.incoming_now += share

    def consent(self, target):
        """0-1: how far those whose consent it needs let it attack ``target``.

        A guarantor protecting it consents as far as its restraint is relaxed (1 - restraint); a patron
        named in ``consent_from`` (or any patron, for a side that needs air cover) consents for the share of
        the step during which it backs a campaign on this front.
        """
        permission = 1.0
        for g in self.guarantors:
            permission = permission * (1.0 - g.restraint_now)
        if self.consent_patrons:
            backed = np.zeros(self.model.replications)
            for p in self.consent_patrons:
                backed = np.maximum(backed, p.campaign_share[self.key, target.key])
            permission = permission * backed
        return permission

    def decide_offensive(self) -> None:
        """Launch or continue a ground offensive across each line still holding (ladder rung 3).

        Hazard per month = rate * ambition * effective readiness * advantage^k * consent
        * (1 + grievance_weight * grievance) * exp(-weight_agreement * own commitment)
        * deterrence * monitors * mediators * linkage, where rate is offensive_rate_covered for a side
        that needs its patron's air cover ([@seed000]: the regime cannot attack without it) and
        offensive_rate_independent otherwise. Deterrence and pretext, exp(weight_pretext * the target's
        pretext - weight_deterrence * the target's shield), apply only to a side that decides alone: for a
        covered side the patron has already weighed both (``PatronAgent.incentive``).
        """
        m = self.model
        d = m.dynamics
        base = self.ambition * self.effective_readiness() * (1.0 + d.grievance_weight * self.grievance()) \
            * np.exp(-d.weight_agreement * m.agreement.commitment(self.key)) * m.mediation_factor(self)
        rate = d.offensive_rate_covered if self.spec.needs_air_cover else d.offensive_rate_independent
        for target in self.opponents:
            front = m.front_of[self.key, target.key]
            covered = self.covered[target.key]
            advantage = self.advantage_over(target, covered)
            hazard = rate * base * advantage ** d.advantage_exponent * self.consent(target) \
                * m.monitor_factor(self, [target], d.monitor_launch_effect) * front.linkage_factor()
            if not self.spec.needs_air_cover:
                pretext = sum((p.pretext_level() for p in target.pretexts), 0.0)
                hazard = hazard * np.exp(d.weight_pretext * pretext - d.weight_deterrence * target.guarantor_shield())
            active = self.offensive[target.key]
            launch = front.holding & ~active & (self.uniform(f"offensive>{target.key}") < -np.expm1(-hazard * m.dt))
            # an offensive counts its days from the end of its launch step: with any step, it must then
            # survive exactly sustain_days of retaliation to count as collapse
            self.offensive_days[target.key] += np.where(active, m.dt * DAYS_PER_MONTH, 0.0)
            self.launch_month[target.key][launch] = m.month_end
            active |= launch

    def under_way(self, target_key: str):
        """Offensives across this line launched before this step (the ones retaliation can halt now)."""
        return self.offensive[target_key] & (self.launch_month[target_key] < self.model.month_end - 1e-12)

    def halt_offensive(self, target_key: str, halted) -> None:
        self.offensive[target_key][halted] = False
        self.offensive_days[target_key][halted] = 0.0

    def escalation_level(self):
        """Rung of the escalation ladder: 0 hold, 1 violations, 2 limited escalation, 3 ground offensive."""
        level = np.where(self.violations_now > 0, 1, 0)
        for p in self.patrons:
            level = np.where(p.strikes_now > 0, np.maximum(level, 2), level)
        for active in self.offensive.values():
            level = np.where(active, 3, level)
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
        # [@seed002]: in 2024 the regime's line of conscripts gave way, its allies and Russian air thin
        weakened = target.defensive_power() < LINE_WEAKENED * target.defence_at_start
        outweighs = self.advantage_over(target, self.covered[target.key]) > 0.5
        answered = self.grievance() > 0.35
        return np.where(weakened | outweighs, codes["defending_line_collapse"],
                        np.where(answered, codes["attacks_answered"], codes["opportunity"]))
