"""Mediator: a third party without troops that presses the parties to keep and renew the agreement."""

from __future__ import annotations

from sim.actors.base import ActorAgent


class MediatorAgent(ActorAgent):
    role = "mediator"

    def link(self) -> None:
        self.pressed = [self.model.belligerent[k] for k in self.spec.mediates]
        self.pressed_keys = frozenset(self.spec.mediates)

    def presses(self, side) -> bool:
        return side.key in self.pressed_keys
