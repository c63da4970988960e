"""Patron: backs belligerents with air power and weighs its relationship with the guarantor (Russia)."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent
from sim.incidents import poisson_from_uniform


class PatronAgent(ActorAgent):
    role = "patron"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        r = model.replications
        self.strikes_now = np.zeros(r, dtype=np.int32)
        self.strikes = np.zeros(r, dtype=np.int32)
        self.cover_probability: dict[tuple[str, str], np.ndarray] = {}
        self.strike_intensity = np.zeros(r)

    def link(self) -> None:
        m = self.model
        self.clients = [m.actors[k] for k in self.spec.backs]
        self.guarantor = m.actors[self.spec.guarantor] if self.spec.guarantor else None
        self.fronts = [(c, t) for c in self.clients for t in c.opponents]

    def available_air(self):
        """Fighting power its air force adds to a client, after distraction and commitment."""
        return self.model.dynamics.air_weight * self.air_power * (1.0 - self.distraction) * self.commitment

    def incentive(self, client, target):
        """Net incentive to cover the client's offensive on the target (doc 000, factors 1, 2, 4).

        Gains: the client's ambition times its advantage if covered, the pretext the target hosts,
        cross-theatre tension. Costs: the target's guarantor shield, the relationship with that
        guarantor (only if it protects the target), its eroding commitment to the agreement,
        distraction by other theatres.
        """
        d = self.model.dynamics
        gain = d.weight_gain * client.ambition * client.advantage_over(target, True)
        pretext = sum((p.pretext_level() for p in target.pretexts), 0.0)
        relationship = self.interest_in_guarantor if self.guarantor in target.guarantors else 0.0
        return (gain + d.weight_pretext * pretext + d.weight_tension * self.model.processes.tension
                - d.weight_deterrence * target.guarantor_shield()
                - d.weight_interest * relationship
                - d.weight_agreement * self.standing_commitment()
                - d.weight_distraction * self.distraction)

    def standing_commitment(self):
        """Commitment to the agreement, eroding with time since the start (doc 000: vague texts)."""
        m = self.model
        return self.agreement_commitment * np.exp(-m.dynamics.agreement_erosion * m.months_elapsed / 12.0)

    def decide_air_cover(self) -> None:
        """Give or withhold air cover on each front: a logistic choice around ``cover_threshold``."""
        d = self.model.dynamics
        for client, target in self.fronts:
            z = (self.incentive(client, target) - d.cover_threshold) / d.cover_scale
            p = self.commitment / (1.0 + np.exp(-np.clip(z, -50, 50)))
            self.cover_probability[client.key, target.key] = p
            # several patrons backing one client: cover from any of them is cover
            client.covered[target.key] |= self.uniform(f"air_cover/{client.key}>{target.key}") < p

    def strike_from_air(self) -> None:
        """Air strikes short of a ground offensive (ladder rung 2), rising with the cover incentive."""
        m = self.model
        d = m.dynamics
        total = np.zeros(m.replications, dtype=np.int32)
        intensity = np.zeros(m.replications)
        share = 1.0 / max(len(self.fronts), 1)
        for client, target in self.fronts:
            level = self.air_power * (1.0 - self.distraction) * self.commitment \
                * (0.25 + 0.75 * self.cover_probability[client.key, target.key]) * share
            count = poisson_from_uniform(self.uniform(f"air_strikes/{client.key}>{target.key}"),
                                         d.air_strike_rate * level * m.dt)
            target.incoming_now += count
            total += count
            if self.guarantor is not None and self.guarantor in target.guarantors:
                intensity = intensity + level
        self.strikes_now = total
        self.strike_intensity = intensity
        self.strikes += total * m.holding

    def defend_clients(self) -> None:
        """Its air force can halt an offensive against a client; thin when distracted (doc 002, 2024)."""
        strength = self.air_power * (1.0 - self.distraction) * self.commitment
        for client in self.clients:
            self.halt_offensives_on(client, strength, "air_defence")
