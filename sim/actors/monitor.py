"""Monitor: monitors, joint patrols or peacekeepers on the lines; their presence deters, and can be withdrawn."""

from __future__ import annotations

import numpy as np

from sim.actors.base import ActorAgent


class MonitorAgent(ActorAgent):
    role = "monitor"

    def link(self) -> None:
        m = self.model
        keys = self.spec.watches or [b.key for b in m.belligerents]
        self.watched = [m.belligerent[k] for k in keys]
        self.watched_keys = frozenset(keys)

    def watches(self, side) -> bool:
        return side.key in self.watched_keys

    def withdraw(self) -> None:
        """The presence is withdrawn or suspended at hazard withdrawal_rate * (1 + violence on its lines),
        violence being the incidents the watched sides suffered in the last step against threat_scale per month
        (joint patrols on the M4 were suspended after attacks in 2020, [@seed004])."""
        m = self.model
        incoming = sum((b.incoming_last for b in self.watched), np.zeros(m.replications))
        violence = np.minimum(1.0, incoming / (m.dynamics.threat_scale * m.last_dt))
        rate = self.withdrawal_rate * (1.0 + violence)
        gone = self.uniform("monitor_withdrawal") < -np.expm1(-rate * m.dt)
        self.presence = np.where(gone, 0.0, self.presence)
