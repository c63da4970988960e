"""The agreement as the model holds it: who is bound, how firmly, eroding over time, lapsing at its term."""

from __future__ import annotations

import math

import numpy as np


class AgreementState:
    """Commitment of each signatory, batched over replications.

    At signing a signatory's commitment is the agreement's strength (form x level, ``Agreement.strength``),
    discounted by (1 + earlier failed agreements in the conflict) ** -failure_credibility (each further failure
    costs less than the one before; [@seed000]: Idlib's agreements collapsed one after another);
    it erodes at ``dynamics.agreement_erosion`` per year ([@seed000]: vague texts are reinterpreted by the
    stronger side), and falls to 0 for good where the agreement lapses at the end of a term it is not
    renewed for. Renewal happens with probability ``renewal``, raised by the mediators' leverage.
    """

    def __init__(self, model):
        self.model = model
        spec = model.scenario.agreement
        r = model.replications
        self.signatories = frozenset(spec.signatories) if spec is not None else frozenset()
        failures = spec.earlier_failures if spec is not None else 0
        self.strength = (spec.strength if spec is not None else 0.0) \
            * (1.0 + failures) ** (-np.asarray(model.dynamics.failure_credibility, dtype=float))
        self.term = np.broadcast_to(np.asarray(model.override("agreement.term_months", spec.term_months if spec else 0.0),
                                               dtype=float), (r,)).copy()
        self.renewal = np.broadcast_to(np.asarray(model.override("agreement.renewal", spec.renewal if spec else 1.0),
                                                  dtype=float), (r,))
        self.lapsed = np.zeros(r, dtype=bool)
        self.terms_done = np.zeros(r, dtype=np.int64)
        self._level = np.broadcast_to(self.strength, (r,)).astype(float)

    def renewal_probability(self):
        """renewal, with the unrenewed share cut by each mediator: 1 - (1 - renewal) prod(1 - effect * leverage)."""
        m = self.model
        stay = 1.0 - self.renewal
        for mediator in m.mediators:
            stay = stay * (1.0 - m.dynamics.mediation_effect * mediator.leverage)
        return 1.0 - stay

    def advance(self, month_end: float) -> None:
        """Erode commitment to the end of this step; at each expiry of the term, renew or lapse."""
        m = self.model
        due = (self.term > 0) & ((self.terms_done + 1) * self.term <= month_end + 1e-9)
        while due.any():
            # one uniform per replication and expiry, drawn only when some term ends this step
            renewed = m.streams.uniform("agreement_renewal") < self.renewal_probability()
            self.lapsed |= due & ~renewed
            self.terms_done += due
            due = (self.term > 0) & ((self.terms_done + 1) * self.term <= month_end + 1e-9)
        self._level = np.where(self.lapsed, 0.0,
                               self.strength * np.exp(-m.dynamics.agreement_erosion * month_end / 12.0))

    def commitment(self, key: str):
        """The current commitment of actor ``key`` to the agreement (0 for an actor not bound by it)."""
        return self._level if key in self.signatories else 0.0
