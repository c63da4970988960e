"""Pretext group: its presence and its attacks on patrols justify the other side's patron's escalation."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent
from sim.incidents import fade_and_add


class PretextAgent(ActorAgent):
    role = "pretext"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        r = model.replications
        self.salience = np.zeros(r)
        self.attacks = np.zeros(r, dtype=np.int32)
        self.attacked_now = np.zeros(r, dtype=bool)

    def link(self) -> None:
        self.host = self.model.belligerent[self.spec.hosted_by]

    def attack_patrols(self) -> None:
        """Spoiler attacks on patrols and posts ([@seed004]): at most one per step, fewer as it transforms.

        Each attack adds ``attack_salience`` to the pretext's salience, which fades with ``memory_months``.
        """
        d = self.model.dynamics
        dt = self.model.dt
        rate = self.patrol_attack_rate * (1.0 - self.transformation)
        self.attacked_now = self.uniform("spoiler_attacks") < -np.expm1(-rate * dt)
        self.salience = np.minimum(1.0, fade_and_add(self.salience, d.attack_salience * self.attacked_now, dt,
                                                     d.memory_months))
        self.attacks += self.attacked_now & self.model.holding

    def pretext_level(self):
        """Standing pretext, discounted by the transformation as far as the patron recognises it, plus recent
        attacks ([@seed000] factor 4: Russia ignores HTS's transformation and keeps accusing it)."""
        return self.pretext_strength * (1.0 - self.transformation * self.recognised_by_patron) + self.salience
