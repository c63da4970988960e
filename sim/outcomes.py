"""How a replication can end: the proximate triggers of a collapse, and the label of none.

Kept apart from ``sim.model`` so that code that only reads outcomes (statistics, files, reports) does
not import Mesa.
"""

TRIGGERS = (
    "spoiler_pretext",          # a spoiler attack taken as pretext by the patron's side ([@seed004])
    "cross_theatre_crisis",     # a crisis between patron and guarantor elsewhere ([@seed000] factor 2)
    "territorial_ambition",     # the patron's side moves for territory with no fresh pretext
    "attacks_answered",         # attacks by the other side answered with an offensive
    "defending_line_collapse",  # the other side's line is too weak to hold ([@seed002], 2024)
    "opportunity",              # an offensive of choice by a side no guarantor holds back
    "strike_on_guarantor_posts",  # patron operations reaching the guarantor's troops (Balyun, Feb 2020)
)
NOT_COLLAPSED = "none"
