"""Guarantor: protects a side and holds it back; deterrence, restraint, friction, retaliation, clash."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent


class GuarantorAgent(ActorAgent):
    role = "guarantor"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        self.clash_now: dict[str, np.ndarray] = {}
        self.friction: dict[str, np.ndarray] = {}
        self.restraint_now = self.restraint.copy()

    def link(self) -> None:
        m = self.model
        self.protected = [m.belligerent[k] for k in self.spec.protects]
        self.rival_patrons = [p for p in m.patrons if p.spec.guarantor == self.key]
        # the sides its protected ones face, and the rival patrons backing those sides
        self.opposite = [t for b in self.protected for t in b.opponents]
        for p in self.rival_patrons:
            self.friction[p.key] = np.broadcast_to(m.processes.tension, (m.replications,)).copy()

    def record_start(self) -> None:
        """Drivers of its restraint at signing: the restraint it shows then is the scenario's value."""
        self.friction_at_start = {k: v.copy() for k, v in self.friction.items()}
        self.distraction_at_start = self._rival_distraction().copy()

    def _rival_distraction(self):
        out = np.zeros(self.model.replications)
        for p in self.rival_patrons:
            out = np.maximum(out, p.distraction)
        return out

    def update_posture(self) -> None:
        """Deterrence, exposure, friction and restraint follow last step's pressure (one step each).

        Deterrence: dD = [reinforcement * resolve * threat * (1 - D) - deterrence_decay / 12 * D] dt, where
        threat is the incidents its protected sides suffered in the last step against ``threat_scale`` per
        month: it builds
        under pressure ([@seed000]: the build-up after the Balyun strike) and loses credibility without it.
        Exposure falls as it pulls exposed posts back under tension (withdrawal).
        """
        m = self.model
        d = m.dynamics
        incoming = sum((b.incoming_last for b in self.protected), np.zeros(m.replications))
        threat = np.minimum(1.0, incoming / (d.threat_scale * m.last_dt))
        self.deterrence = np.clip(
            self.deterrence + (self.reinforcement * self.resolve * threat * (1.0 - self.deterrence)
                               - d.deterrence_decay / 12.0 * self.deterrence) * m.dt, 0.0, 1.0)
        self.exposure = np.maximum(0.0, self.exposure * (1.0 - self.withdrawal * m.processes.tension * m.dt))
        self.update_friction()
        self.adjust_restraint()

    def update_friction(self) -> None:
        """Friction with each rival patron follows cross-theatre tension and that patron's strikes on the
        sides it protects: target = 1 - (1 - tension)(1 - strikes / threat_scale), at friction_rate.

        [@seed000] factor 2: tension elsewhere (Libya, Karabakh) was signalled through Idlib, and Russian
        strikes on the protected side strained the relationship without touching Turkish posts.
        """
        m = self.model
        d = m.dynamics
        for p in self.rival_patrons:
            strikes = sum((p.strikes_on.get(b.key, 0.0) for b in self.protected), np.zeros(m.replications))
            pressure = np.minimum(1.0, strikes / (d.threat_scale * m.last_dt))   # last step's strikes
            target = 1.0 - (1.0 - m.processes.tension) * (1.0 - pressure)
            f = self.friction[p.key]
            f += (target - f) * (-np.expm1(-d.friction_rate * m.dt))

    def adjust_restraint(self) -> None:
        """Restraint over the protected side moves towards its policy at signing, relaxed by a green light.

        target = restraint * exp(-(green_light_weakness * weakening of the other side's line since signing
        + green_light_distraction * (rival patron's distraction - at signing)
        + green_light_friction * (friction with it - at signing))), capped at 1, followed at restraint_adjust.
        [@seed002]: in 2024 the regime's line was hollow, Russia's air support thin (Ukraine), and Ankara let
        the factions move. Each driver acts smoothly; none is a switch.
        """
        m = self.model
        d = m.dynamics
        weakness = np.zeros(m.replications)
        for t in self.opposite:
            weakness = np.maximum(weakness, t.line_weakening())
        friction = np.full(m.replications, -np.inf) if self.rival_patrons else np.zeros(m.replications)
        for p in self.rival_patrons:
            friction = np.maximum(friction, self.friction[p.key] - self.friction_at_start[p.key])
        pressure = d.green_light_weakness * weakness \
            + d.green_light_distraction * (self._rival_distraction() - self.distraction_at_start) \
            + d.green_light_friction * friction
        target = np.minimum(1.0, self.restraint * np.exp(-pressure))
        self.restraint_now += (target - self.restraint_now) * (-np.expm1(-d.restraint_adjust * m.dt))

    def retaliate(self) -> None:
        """Retaliation halts an ongoing offensive on a protected side at rate halt_rate * deterrence * resolve
        * (1 - attacker's advantage) ([@seed000]: Spring Shield stopped the regime's advance)."""
        for target in self.protected:
            self.halt_offensives_on(target, self.deterrence * self.resolve, "retaliation")

    def confront_patrons(self) -> None:
        """Direct clash with a rival patron whose air operations reach its exposed troops.

        Hazard per month = clash_rate * friction * exposure * resolve * (1 - patron's interest)
        * the patron's air operations against the protected side ([@seed000]: the Balyun strike).
        """
        m = self.model
        d = m.dynamics
        for patron in self.rival_patrons:
            operations = sum((patron.operations_on.get(b.key, 0.0) for b in self.protected), 0.0)
            rate = d.clash_rate * self.friction[patron.key] * self.exposure * self.resolve \
                * (1.0 - patron.interest_in_guarantor) * operations
            self.clash_now[patron.key] = self.uniform(f"clash/{patron.key}") < -np.expm1(-rate * m.dt)
