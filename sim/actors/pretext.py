"""Pretext group: its presence and its attacks on joint patrols justify the patron's escalation."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent


class PretextAgent(ActorAgent):
    role = "pretext"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        r = model.replications
        self.salience = np.zeros(r)
        self.attacks = np.zeros(r, dtype=np.int32)
        self.attacked_now = np.zeros(r, dtype=bool)

    def link(self) -> None:
        self.host = self.model.actors[self.spec.hosted_by]

    def attack_patrols(self) -> None:
        """Spoiler attacks on joint patrols (doc 004): at most one per step, discounted by transformation.

        Each attack adds ``attack_salience`` to the pretext's salience, which fades with ``memory_months``.
        """
        d = self.model.dynamics
        dt = self.model.dt
        rate = self.patrol_attack_rate * (1.0 - self.transformation)
        self.attacked_now = self.uniform("spoiler_attacks") < -np.expm1(-rate * dt)
        self.salience = np.minimum(1.0, self.salience * np.exp(-dt / d.memory_months)
                                   + d.attack_salience * self.attacked_now)
        self.attacks += self.attacked_now & self.model.holding

    def pretext_level(self):
        """Standing pretext (strength discounted by verified transformation) plus recent attacks."""
        return self.pretext_strength * (1.0 - self.transformation) + self.salience
