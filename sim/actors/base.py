"""What every role shares: a name, its declared parameters as arrays, and its random streams."""

from __future__ import annotations

import numpy as np

from sim.mesafix import Agent

from sim.schema import ROLE_CLASSES


class ActorAgent(Agent):
    """One role of an actor of the scenario, batched over replications.

    An actor that holds several roles is one agent per role, all with the same ``key``. Each numeric
    parameter of the role becomes an attribute holding an array of shape ``(replications,)``: scalars
    are broadcast, sweep overrides and parameter draws arrive as arrays, scheduled events overwrite them.
    """

    role = ""

    def __init__(self, model, key: str, spec):
        super().__init__(model)
        self.key = key
        self.spec = spec
        self.label = spec.label or key
        fields = ROLE_CLASSES[self.role].model_fields
        self.parameter_names = [n for n, f in fields.items() if f.annotation is float]
        for name in self.parameter_names:
            self.set_parameter(name, model.override(f"actors.{key}.{name}", getattr(spec, name)))

    def set_parameter(self, name: str, value, where=None) -> None:
        """Set a parameter for every replication, or only where the mask ``where`` is true."""
        value = np.broadcast_to(np.asarray(value, dtype=float), (self.model.replications,))
        if where is None or not hasattr(self, name):
            setattr(self, name, value.copy())
        else:
            current = getattr(self, name)
            current[where] = value[where]

    def uniform(self, process: str) -> np.ndarray:
        """One uniform per replication from this actor's stream for ``process``."""
        return self.model.streams.uniform(f"{process}/{self.key}")

    def link(self) -> None:
        """Resolve references to other actors once all are built."""

    def halt_offensives_on(self, target, strength, process: str) -> None:
        """Halt ongoing offensives on ``target``, each at rate halt_rate * strength * (1 - the attacker's
        advantage): a guarantor's retaliation and a patron's defensive air share this mechanism."""
        m = self.model
        for attacker in m.belligerents:
            if target.key not in attacker.offensive:
                continue
            advantage = attacker.advantage_over(target, attacker.covered[target.key])
            rate = m.dynamics.halt_rate * strength * (1.0 - advantage)
            halted = attacker.under_way(target.key) & (self.uniform(f"{process}/{attacker.key}>{target.key}") < -np.expm1(-rate * m.dt))
            attacker.halt_offensive(target.key, halted)
