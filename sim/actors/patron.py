"""Patron: backs belligerents with air power, arms and political cover, and weighs a rival guarantor (Russia)."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent
from sim.incidents import poisson_from_uniform

OUTSIDE_CAMPAIGN = 0.25   # share of campaign-level air operations kept up while no campaign is backed


class PatronAgent(ActorAgent):
    role = "patron"

    def __init__(self, model, key, spec):
        super().__init__(model, key, spec)
        r = model.replications
        self.strikes_now = np.zeros(r, dtype=np.int32)
        self.strikes = np.zeros(r, dtype=np.int32)
        self.campaign: dict[tuple[str, str], np.ndarray] = {}
        self.campaign_share: dict[tuple[str, str], np.ndarray] = {}   # share of this step under the campaign
        self.strikes_on: dict[str, np.ndarray] = {}
        self.operations_on: dict[str, np.ndarray] = {}

    def link(self) -> None:
        m = self.model
        self.clients = [m.belligerent[k] for k in self.spec.backs]
        self.guarantor = m.guarantor.get(self.spec.guarantor) if self.spec.guarantor else None
        self.fronts = [(c, t) for c in self.clients for t in c.opponents]
        for c, t in self.fronts:
            self.campaign[c.key, t.key] = np.zeros(m.replications, dtype=bool)
            self.campaign_share[c.key, t.key] = np.zeros(m.replications)

    def air_level(self):
        """Share of its air power at work in this theatre: cut by distraction, scaled by commitment."""
        return self.air_power * (1.0 - self.distraction) * self.commitment

    def available_air(self):
        """Fighting power its air force adds to a client it covers or defends."""
        return self.model.dynamics.air_weight * self.air_level()

    def arm_clients(self) -> None:
        """Arms and training raise each client's strength towards 1: dS = arming_rate / 12 * arms_supply
        * commitment * (1 - distraction) * (1 - S) dt ([@seed003] scenario 1: arming them as parallel forces)."""
        m = self.model
        rate = m.dynamics.arming_rate / 12.0 * self.arms_supply * self.commitment * (1.0 - self.distraction)
        if not np.any(rate > 0):
            return
        for client in self.clients:
            strength = client.strength + rate * (1.0 - client.strength) * m.dt
            for agent in m.actor_agents[client.key]:    # one value for every role of the actor that has it
                if "strength" in agent.parameter_names:
                    agent.strength = strength

    def incentive(self, client, target):
        """Net incentive to back the client's offensive on the target ([@seed000], factors 1, 2, 4).

        Gains: the client's ambition times its ground advantage if covered, the pretext the target hosts (as
        far as this patron recognises its transformation), cross-theatre tension. Costs: the shield of the
        target's guarantors (the one place deterrence enters this decision), the relationship with the rival
        guarantor (only if it protects the target), the patron's own commitment to the agreement (eroding),
        its distraction by other theatres.
        """
        m = self.model
        d = m.dynamics
        gain = d.weight_gain * client.ambition * client.advantage_over(target, True)
        pretext = sum((p.pretext_level() for p in target.pretexts), 0.0)
        relationship = self.interest_in_guarantor if self.guarantor in target.guarantors else 0.0
        return (gain + d.weight_pretext * pretext + d.weight_tension * m.processes.tension
                - d.weight_deterrence * target.guarantor_shield()
                - d.weight_interest * relationship
                - d.weight_agreement * m.agreement.commitment(self.key)
                - d.weight_distraction * self.distraction)

    def decide_campaigns(self) -> None:
        """Back or abandon a campaign on each front: a decision with persistence.

        Without a campaign it starts one at hazard campaign_rate * commitment * L(z) (a patron that backs its
        clients less openly starts fewer); with one it abandons it at hazard campaign_end_rate * L(-z), where
        z = (incentive - cover_threshold) / cover_scale and L is the logistic. Both hazards move smoothly with every term of the incentive, and a campaign once begun
        goes on until the incentive turns ([@seed000]: the decision to resume operations is mainly Russia's).
        A campaign that starts or ends within the step covers half of it (the midpoint rule keeps the result
        close to the same whatever the step).
        """
        m = self.model
        d = m.dynamics
        for client, target in self.fronts:
            z = np.clip((self.incentive(client, target) - d.cover_threshold) / d.cover_scale, -50, 50)
            on = self.campaign[client.key, target.key]
            start = d.campaign_rate / (1.0 + np.exp(-z))
            stop = d.campaign_end_rate / (1.0 + np.exp(z))
            hazard = np.where(on, stop, start * self.commitment)
            flip = self.uniform(f"campaign/{client.key}>{target.key}") < -np.expm1(-hazard * m.dt)
            share = np.where(flip, 0.5, on.astype(float))
            on ^= flip
            self.campaign_share[client.key, target.key] = share
            # several patrons backing one client: cover from any of them is cover
            client.covered[target.key] |= share > 0
            np.maximum(client.cover_share[target.key], share, out=client.cover_share[target.key])

    def strike_from_air(self) -> None:
        """Air strikes short of a ground offensive (ladder rung 2): a quarter of campaign level outside a
        campaign ([@seed000]: Russian strikes went on under the ceasefire), full level in one."""
        m = self.model
        d = m.dynamics
        total = np.zeros(m.replications, dtype=np.int32)
        share = 1.0 / max(len(self.fronts), 1)
        self.strikes_on = {}
        self.operations_on = {}
        level = self.air_level() * share
        for client, target in self.fronts:
            share = self.campaign_share[client.key, target.key]
            operations = level * (OUTSIDE_CAMPAIGN + (1.0 - OUTSIDE_CAMPAIGN) * share)
            count = poisson_from_uniform(self.uniform(f"air_strikes/{client.key}>{target.key}"),
                                         d.air_strike_rate * operations * m.dt)
            target.incoming_now += count
            total += count
            self.strikes_on[target.key] = self.strikes_on.get(target.key, 0) + count
            self.operations_on[target.key] = self.operations_on.get(target.key, 0.0) + operations
        self.strikes_now = total
        self.strikes += total * m.holding

    def defend_clients(self) -> None:
        """Its air force can halt an offensive against a client; thin when distracted ([@seed002], 2024)."""
        strength = self.air_level()
        for client in self.clients:
            self.halt_offensives_on(client, strength, "air_defence")
