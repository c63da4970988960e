"""Supporter: adds fighting power to one belligerent (Iran-backed militias, Hezbollah; a foreign army)."""

from __future__ import annotations

from sim.actors.base import ActorAgent


class SupporterAgent(ActorAgent):
    role = "supporter"

    def link(self) -> None:
        self.supported = self.model.belligerent[self.spec.supports]

    def contribution(self):
        """Fighting power it adds: strength times the share committed to this front."""
        return self.strength * self.commitment
