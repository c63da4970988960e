"""What every role shares: a name, its declared parameters as arrays, and its random streams."""

from __future__ import annotations

import numpy as np
from mesa import Agent


class ActorAgent(Agent):
    """An actor of the scenario, batched over replications.

    Each numeric parameter of the actor's declaration becomes an attribute holding an array of shape
    ``(replications,)``: scalars are broadcast, sweep overrides arrive as arrays, scheduled events
    overwrite them.
    """

    role = ""

    def __init__(self, model, key: str, spec):
        super().__init__(model)
        self.key = key
        self.spec = spec
        self.label = spec.label or key
        for name, value in spec.model_dump().items():
            if isinstance(value, float) and not isinstance(value, bool):
                self.set_parameter(name, model.override(f"actors.{key}.{name}", value))

    def set_parameter(self, name: str, value) -> None:
        setattr(self, name, np.broadcast_to(np.asarray(value, dtype=float), (self.model.replications,)).copy())

    def uniform(self, process: str) -> np.ndarray:
        """One uniform per replication from this actor's stream for ``process``."""
        return self.model.streams.uniform(f"{process}/{self.key}")

    def link(self) -> None:
        """Resolve references to other actors once all are built."""

    def halt_offensives_on(self, target, strength, process: str) -> None:
        """Halt ongoing offensives on ``target``, each at rate halt_rate * strength * (1 - the attacker's
        advantage): the guarantor's retaliation and the patron's air defence share this mechanism."""
        m = self.model
        for attacker in m.belligerents:
            steps = attacker.offensive_steps.get(target.key)
            if steps is None:
                continue
            advantage = attacker.advantage_over(target, attacker.covered[target.key])
            rate = m.dynamics.halt_rate * strength * (1.0 - advantage)
            halted = (steps > 0) & (self.uniform(f"{process}/{attacker.key}>{target.key}") < -np.expm1(-rate * m.dt))
            attacker.halt_offensive(target.key, halted)
