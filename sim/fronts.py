"""Front lines: each pair of opposing belligerents has its own collapse, and collapses can spread."""

from __future__ import annotations

import numpy as np


class FrontLine:
    """One line of contact, batched over replications: whether it holds, when and how it collapsed."""

    def __init__(self, model, index: int, name: str, sides: tuple[str, str], linked: tuple[str, ...]):
        r = model.replications
        self.model = model
        self.index = index
        self.name = name
        self.sides = sides
        self.linked_names = linked
        self.holding = np.ones(r, dtype=bool)
        self.collapse_month = np.full(r, np.nan)
        self.initiator = np.full(r, -1, dtype=np.int16)
        self.trigger = np.full(r, -1, dtype=np.int16)
        self.linked_to: list[FrontLine] = []     # fronts whose collapse raises this one's hazards

    def linkage_factor(self):
        """1 + front_linkage where a front linked to this one has collapsed ([@seed003]: the coast, Suwayda
        and the north-east move together)."""
        if not self.linked_to:
            return 1.0
        fallen = np.zeros(self.model.replications, dtype=bool)
        for other in self.linked_to:
            fallen |= ~other.holding
        return 1.0 + self.model.dynamics.front_linkage * fallen

    def record(self, hit, month, initiator: int, trigger) -> None:
        self.collapse_month[hit] = np.broadcast_to(month, hit.shape)[hit]
        self.initiator[hit] = initiator
        self.trigger[hit] = np.broadcast_to(trigger, hit.shape)[hit]
        self.holding &= ~hit
