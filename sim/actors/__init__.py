"""One Mesa agent class per role. Every attribute is an array over the replications of the batch."""

from sim.actors.belligerent import BelligerentAgent
from sim.actors.guarantor import GuarantorAgent
from sim.actors.mediator import MediatorAgent
from sim.actors.monitor import MonitorAgent
from sim.actors.patron import PatronAgent
from sim.actors.pretext import PretextAgent
from sim.actors.supporter import SupporterAgent

AGENT_CLASSES = {
    "guarantor": GuarantorAgent,
    "patron": PatronAgent,
    "belligerent": BelligerentAgent,
    "pretext": PretextAgent,
    "supporter": SupporterAgent,
    "monitor": MonitorAgent,
    "mediator": MediatorAgent,
}

__all__ = ["AGENT_CLASSES", "BelligerentAgent", "GuarantorAgent", "MediatorAgent", "MonitorAgent", "PatronAgent",
           "PretextAgent", "SupporterAgent"]
