"""Guarantor: deters attacks on the side it protects; reinforces, retaliates, withdraws exposed posts."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent


class GuarantorAgent(ActorAgent):
    role = "guarantor"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        self.clash_now: dict[str, np.ndarray] = {}

    def link(self) -> None:
        m = self.model
        self.protected = [m.actors[k] for k in self.spec.protects]
        self.rival_patrons = [p for p in m.patrons if p.spec.guarantor == self.key]

    def respond(self) -> None:
        """Reinforce under threat; pull back exposed posts under tension; retaliate against offensives.

        Threat is the incidents the protected side suffered this step against ``threat_scale`` per
        month. Retaliation halts an ongoing offensive at rate halt_rate * deterrence * resolve
        * (1 - attacker's advantage) (Spring Shield, doc 000).
        """
        m = self.model
        d = m.dynamics
        incoming = sum((b.incoming_now for b in self.protected), np.zeros(m.replications))
        threat = np.minimum(1.0, incoming / (d.threat_scale * m.dt))
        self.deterrence = np.minimum(
            1.0, self.deterrence + self.reinforcement * self.resolve * threat * (1.0 - self.deterrence) * m.dt)
        self.exposure = np.maximum(0.0, self.exposure * (1.0 - self.withdrawal * m.processes.tension * m.dt))
        for target in self.protected:
            self.halt_offensives_on(target, self.deterrence * self.resolve, "retaliation")

    def confront_patrons(self) -> None:
        """Direct clash with a rival patron whose strikes hit its posts while tension runs high.

        Hazard per month = clash_rate * tension * exposure * resolve * (1 - patron's interest)
        * the patron's strike intensity on the protected side (Balyun, 27 Feb 2020).
        """
        m = self.model
        d = m.dynamics
        for patron in self.rival_patrons:
            rate = d.clash_rate * m.processes.tension * self.exposure * self.resolve \
                * (1.0 - patron.interest_in_guarantor) * patron.strike_intensity
            self.clash_now[patron.key] = self.uniform(f"clash/{patron.key}") < -np.expm1(-rate * m.dt)
