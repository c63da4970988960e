"""The pydantic schema of a scenario: actors by role, exogenous processes, dynamics, events.

Every numeric field carries its range, unit and the claim of the source documents it stands for
(files in ``shared/seeds``; ``000`` is ``000_8170e406b4c9feb0.txt`` and so on). The brief's four
factors of document 000 are: (1) Turkish deterrence, (2) Russia's interest in Ankara, (3) regime
exhaustion, (4) HTS as a pretext.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.params import param

D000 = "000_8170e406b4c9feb0.txt"
D001 = "001_a89d6408c6569192.txt"
D002 = "002_5433ece65a96cf48.txt"
D003 = "003_ff34df9104fa3b9f.txt"
D004 = "004_f436e73b25f40ee7.txt"


def _toml_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class Strict(BaseModel):
    """Frozen, no unknown keys: a typo in a scenario is an error, never a silent default.

    Numbers must be written as numbers and flags as true/false: pydantic would otherwise read
    ``deterrence = true`` as 1.0 and ``needs_air_cover = "yes"`` as True.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    @model_validator(mode="before")
    @classmethod
    def _no_coercion(cls, data):
        if not isinstance(data, dict):
            return data
        problems = []
        for name, value in data.items():
            field = cls.model_fields.get(name)
            if field is None:
                continue
            annotation = field.annotation
            if annotation in (float, int) or annotation == (float | None):
                if isinstance(value, (bool, str)):
                    problems.append(f"{name}: must be a number, not {_toml_text(value)}")
                elif isinstance(value, float) and math.isnan(value):
                    problems.append(f"{name}: must be a number, not nan")
            elif annotation is bool and not isinstance(value, bool):
                problems.append(f"{name}: must be true or false, not {_toml_text(value)}")
        if problems:
            raise ValueError("; ".join(problems))
        return data


class ActorBase(Strict):
    label: str = ""
    """Display name of the actor (the TOML key is its identifier)."""


class Guarantor(ActorBase):
    """Deters attacks on the side it protects (Turkey in 2020)."""

    role: Literal["guarantor"]
    protects: list[str] = Field(min_length=1)
    """Belligerents this guarantor protects."""
    deterrence: float = param(
        ..., ge=0, le=1, unit="index 0-1 (0 none, 1 decisive)",
        source=f"{D000} factor 1",
        doc="Military weight deployed to deter an offensive on the protected side: troops and posts, "
        "armed drones, air defence given to allies (Spring Shield, 113 sites by mid-2021). "
        "Raises the defender's side of the balance and the cost the patron weighs.",
    )
    resolve: float = param(
        ..., ge=0, le=1, unit="probability-like index 0-1",
        source=f"{D000} factor 1; HISTORY (Turkish fire on regime forces)",
        doc="Readiness to retaliate against attacks on the protected side and on its own posts "
        "(0: no fire, as in 2017-2019; 1: Spring Shield).",
    )
    exposure: float = param(
        0.5, ge=0, le=1, unit="index 0-1",
        source=f"{D000} (encircled posts, Morek withdrawal); HISTORY (Balyun strike)",
        doc="How exposed its troops are to the patron's air strikes (encircled observation posts). "
        "Scales the risk of a direct guarantor-patron clash.",
    )
    restraint: float = param(
        0.8, ge=0, le=1, unit="index 0-1",
        source=f"{D002} (Turkey's stance before 27 Nov 2024)",
        doc="How firmly it holds back the side it protects from launching its own offensive.",
    )
    reinforcement: float = param(
        0.1, ge=0, le=1, unit="fraction of the gap to full deterrence per month of high threat",
        source=f"{D000} (troop build-up Feb-May 2020)",
        doc="How fast deterrence rises when the protected side is under air and artillery pressure.",
    )
    withdrawal: float = param(
        0.2, ge=0, le=1, unit="fraction of exposure removed per month at full tension",
        source=f"{D000} (withdrawal of encircled posts, Morek, Oct 2020)",
        doc="How fast the guarantor pulls back exposed posts when pressure on them rises.",
    )


class Patron(ActorBase):
    """Backs a belligerent with air power and diplomacy, weighing its relation with the guarantor."""

    role: Literal["patron"]
    backs: list[str] = Field(min_length=1)
    """Belligerents this patron backs."""
    guarantor: str = ""
    """The guarantor whose relationship this patron weighs (empty: none)."""
    interest_in_guarantor: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source=f"{D000} factor 2; {D001} (S-400, fighter offers); {D003} (Russia needs Turkey)",
        doc="Value the patron puts on its relationship with the guarantor (Astana track, defence deals). "
        "A cost of giving air cover to an offensive against the guarantor's side.",
    )
    air_power: float = param(
        ..., ge=0, le=1, unit="index 0-1 (share of 2019-20 campaign level)",
        source=f"{D000}; HISTORY (ACLED: 825 Russian attacks before Feb 2022, 587 after)",
        doc="Air power available in the theatre, for cover of offensives and for defence of the backed side.",
    )
    distraction: float = param(
        ..., ge=0, le=1, unit="index 0-1 (share of attention and assets drawn elsewhere)",
        source=f"{D002} (thin Russian air support, war in Ukraine); {D003}",
        doc="How far other theatres draw the patron away; cuts air power for cover and for defence.",
    )
    agreement_commitment: float = param(
        0.5, ge=0, le=1, unit="index 0-1 (0: a truce it never meant to keep)",
        source=f"{D000} (earlier agreements failed for Moscow's lack of real will to keep them; vague texts)",
        doc="Will to keep the agreement it signed or announced: a cost of giving air cover that erodes "
        "over time at dynamics.agreement_erosion.",
    )
    commitment: float = param(
        1.0, ge=0, le=1, unit="index 0-1",
        source=f"{D003} (scenario 1 open support vs scenario 2 limited, indirect support)",
        doc="How openly the patron backs its clients: scales its air cover and defensive air support.",
    )


class Belligerent(ActorBase):
    """Holds territory and fights (the regime; the opposition factions; the SDF; ...)."""

    role: Literal["belligerent"]
    opposes: list[str] = Field(min_length=1)
    """Belligerents it fights across the ceasefire line."""
    needs_air_cover: bool = False
    """True when it cannot launch a ground offensive without its patron's air cover (doc 000 on the regime)."""
    ambition: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source=f"{D000} (regime aim to retake Idlib; 'now Idlib is our goal', HISTORY)",
        doc="Wish to take territory across the line.",
    )
    strength: float = param(
        ..., ge=0, le=1, unit="index 0-1 (relative fighting power)",
        source=f"{D000}; {D002}",
        doc="Fighting power of its own forces.",
    )
    readiness: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source=f"{D000} factor 3; {D002} (opposition trained for years)",
        doc="Operational readiness for an offensive before exhaustion and other fronts are applied.",
    )
    readiness_growth: float = param(
        0.0, ge=-0.5, le=0.5, unit="change of readiness per year",
        source=f"{D002} (unified operations room, years of training)",
        doc="Trend of readiness over time.",
    )
    exhaustion: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source=f"{D000} factor 3 (Caesar Act, pound collapse, Makhlouf rift); {D002}",
        doc="Economic and military exhaustion at the start; follows the economy process if listed there.",
    )
    violation_propensity: float = param(
        0.5, ge=0, le=1, unit="index 0-1",
        source=f"{D000} (violations and shelling under the ceasefire)",
        doc="Propensity to shell and raid across the line while the ceasefire holds.",
    )


class Pretext(ActorBase):
    """An armed group whose presence and attacks justify the patron's escalation (HTS; spoilers)."""

    role: Literal["pretext"]
    hosted_by: str
    """The belligerent in whose territory it operates."""
    pretext_strength: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source=f"{D000} factor 4 (HTS excluded from every agreement)",
        doc="How far its presence serves the patron as a standing pretext for escalation.",
    )
    transformation: float = param(
        ..., ge=0, le=1, unit="index 0-1 (1: verified transformation, delisted)",
        source=f"{D000} factor 4 (split from al-Qaeda, fighting Hurras al-Din, securing patrols)",
        doc="Verified moderation; discounts both the pretext and the attack rate.",
    )
    patrol_attack_rate: float = param(
        ..., ge=0, le=10, unit="attacks per month",
        source=f"{D004} (IEDs on joint M4 patrols, Kataib Khattab al-Shishani, 2020)",
        doc="Rate of spoiler attacks on joint patrols, before transformation.",
    )


class Supporter(ActorBase):
    """Adds strength to a belligerent (Iran-backed militias, Hezbollah; the US for the SDF)."""

    role: Literal["supporter"]
    supports: str
    """The belligerent it supports."""
    strength: float = param(
        ..., ge=0, le=1, unit="index 0-1 (same scale as belligerent strength)",
        source=f"{D000}; {D002} (Hezbollah weakened, Iranian militias thin in 2024)",
        doc="Fighting power it adds to the supported side.",
    )
    commitment: float = param(
        1.0, ge=0, le=1, unit="index 0-1",
        source=f"{D002}; {D003}",
        doc="Share of that power actually committed to this front.",
    )


Actor = Annotated[Union[Guarantor, Patron, Belligerent, Pretext, Supporter], Field(discriminator="role")]
ROLE_CLASSES = {c.model_fields["role"].annotation.__args__[0]: c
                for c in (Guarantor, Patron, Belligerent, Pretext, Supporter)}


class CrossTheatreTension(Strict):
    """Tension between patron and guarantor in other theatres (Libya, Karabakh, Ukraine)."""

    initial: float = param(0.3, ge=0, le=1, unit="index 0-1", source=f"{D000} factor 2 (Libya, Karabakh)",
                           doc="Level at the start.")
    mean: float = param(0.3, ge=0, le=1, unit="index 0-1", source=f"{D000} factor 2",
                        doc="Long-run level it reverts to.")
    reversion: float = param(0.3, ge=0, le=5, unit="per month", source=f"{D000} (calm in Libya reflected in Idlib)",
                             doc="Speed of return to the long-run level.")
    volatility: float = param(0.08, ge=0, le=1, unit="per square-root month", source=f"{D000}",
                              doc="Size of month-to-month fluctuations.")
    crisis_rate: float = param(1.0, ge=0, le=12, unit="crises per year",
                               source=f"{D000} (strike on Faylaq al-Sham camp, Oct 2020, during Karabakh war)",
                               doc="Rate of sudden cross-theatre crises.")
    crisis_size: float = param(0.25, ge=0, le=1, unit="jump in tension", source=f"{D000}",
                               doc="Jump in tension at a crisis.")


class Economy(Strict):
    """The economy of sanctioned belligerents (Caesar Act, the Syrian pound)."""

    affects: list[str] = Field(default_factory=list)
    """Belligerents whose exhaustion follows this economy."""
    initial_stress: float = param(0.5, ge=0, le=1, unit="index 0-1 (1: collapse)",
                                  source=f"{D000} factor 3; HISTORY (pound 700 -> 3,500 per USD by June 2020)",
                                  doc="Economic stress at the start.")
    sanctions: float = param(0.6, ge=0, le=1, unit="index 0-1", source=f"{D000} factor 3 (Caesar Act, June 2020)",
                             doc="Long-run stress the sanctions regime pushes the economy towards.")
    reversion: float = param(0.1, ge=0, le=5, unit="per month", source=f"{D000}", doc="Speed of approach to that level.")
    volatility: float = param(0.05, ge=0, le=1, unit="per square-root month", source=f"{D000}",
                              doc="Size of monthly economic shocks.")
    exhaustion_rate: float = param(0.05, ge=0, le=1, unit="per month", source=f"{D000} factor 3; {D002}",
                                   doc="Speed at which a belligerent's exhaustion follows economic stress.")


class OtherFronts(Strict):
    """Other fronts that draw forces away (ISIS in the Badia, the SDF in the north-east)."""

    affects: list[str] = Field(default_factory=list)
    """Belligerents whose readiness is drawn down by these fronts."""
    initial: float = param(0.1, ge=0, le=1, unit="share of forces drawn away",
                           source=f"{D000} factor 3 (ISIS attacks on regime convoys in the Badia)", doc="Draw at the start.")
    mean: float = param(0.1, ge=0, le=1, unit="share of forces drawn away", source=f"{D000}", doc="Long-run draw.")
    reversion: float = param(0.3, ge=0, le=5, unit="per month", source=f"{D000}", doc="Speed of return to the long-run draw.")
    volatility: float = param(0.05, ge=0, le=1, unit="per square-root month", source=f"{D000}", doc="Fluctuations.")
    flare_rate: float = param(1.0, ge=0, le=12, unit="flare-ups per year", source=f"{D000} (Qamishli siege, Badia)",
                              doc="Rate of flare-ups on other fronts.")
    flare_size: float = param(0.15, ge=0, le=1, unit="jump in share drawn away", source=f"{D000}", doc="Size of a flare-up.")


class Processes(Strict):
    cross_theatre_tension: CrossTheatreTension = CrossTheatreTension()
    economy: Economy = Economy()
    other_fronts: OtherFronts = OtherFronts()


class Dynamics(Strict):
    """Global rates and thresholds of the step: the free parameters a calibration fits."""

    violation_rate: float = param(8.0, ge=0, le=200, unit="incidents per month at full propensity",
                                  source=f"{D000} (violations continued under the ceasefire)",
                                  doc="Rate of shelling and raids across the line.")
    air_strike_rate: float = param(120.0, ge=0, le=500, unit="strikes per month at full incentive",
                                   source="HISTORY (ACLED: 1,412 Russian attacks Mar 2020 - Feb 2024)",
                                   doc="Rate of the patron's air strikes at full incentive and full air power.")
    offensive_rate: float = param(8.0, ge=0, le=50, unit="launches per month at full motive",
                                  source="HISTORY (six truces, 0.1 to 56.7 months)",
                                  doc="Hazard of launching a ground offensive at full motive, permission and advantage.")
    cover_threshold: float = param(0.15, ge=-2, le=2, unit="net incentive",
                                   source=f"{D000} (the decision to resume operations is mainly Russia's)",
                                   doc="Net incentive at which the patron gives air cover half the time.")
    cover_scale: float = param(0.08, ge=0.005, le=1, unit="net incentive",
                               source=f"{D000}", doc="Spread of the patron's decision around the threshold.")
    weight_gain: float = param(1.0, ge=0, le=5, unit="weight", source=f"{D000} (territory the regime wants)",
                               doc="Weight of expected territorial gain in the patron's incentive.")
    weight_pretext: float = param(0.6, ge=0, le=5, unit="weight", source=f"{D000} factor 4",
                                  doc="Weight of the pretext in the patron's incentive.")
    weight_tension: float = param(0.5, ge=0, le=5, unit="weight", source=f"{D000} factor 2 (cross-theatre linkage)",
                                  doc="Weight of cross-theatre tension in the patron's incentive.")
    weight_deterrence: float = param(0.8, ge=0, le=5, unit="weight", source=f"{D000} factor 1",
                                     doc="Weight of the guarantor's deterrence in the patron's cost.")
    weight_interest: float = param(0.6, ge=0, le=5, unit="weight", source=f"{D000} factor 2",
                                   doc="Weight of the relationship with the guarantor in the patron's cost.")
    weight_agreement: float = param(0.5, ge=0, le=5, unit="weight",
                                    source=f"{D000} (Moscow's will to keep agreements)",
                                    doc="Weight of the patron's commitment to the agreement in its cost of giving cover.")
    agreement_erosion: float = param(0.5, ge=0, le=12, unit="per year",
                                     source=f"{D000} (constructive ambiguity: the stronger side reinterprets vague texts)",
                                     doc="Rate at which the patron's commitment to the agreement erodes.")
    exhaustion_effect: float = param(0.6, ge=0, le=1, unit="share of readiness lost at full exhaustion",
                                     source=f"{D000} factor 3 (exhaustion cuts readiness; the decision is mainly Russia's)",
                                     doc="How much exhaustion cuts a belligerent's effective readiness.")
    weight_distraction: float = param(0.5, ge=0, le=5, unit="weight", source=f"{D002}; {D003}",
                                      doc="Weight of distraction in the patron's cost.")
    air_weight: float = param(0.6, ge=0, le=2, unit="strength units at full air power",
                              source=f"{D000} (no offensive without Russian air cover)",
                              doc="Fighting power the patron's air power adds to the side it covers or defends.")
    grievance_weight: float = param(1.0, ge=0, le=5, unit="weight",
                                    source=f"{D002} (regime attacks answered by the opposition)",
                                    doc="How much recent attacks by the other side raise a belligerent's motive.")
    grievance_scale: float = param(30.0, ge=1, le=1000, unit="incidents",
                                   source=f"{D002}", doc="Recent incidents at which grievance reaches 63% of its maximum.")
    memory_months: float = param(2.0, ge=0.1, le=24, unit="months",
                                 source=f"{D004} (attacks on patrols used as pretext)",
                                 doc="Time over which incidents and attacks stay salient.")
    attack_salience: float = param(0.25, ge=0, le=1, unit="pretext per attack",
                                   source=f"{D004}", doc="Pretext added by one spoiler attack on a patrol.")
    halt_rate: float = param(2.0, ge=0, le=20, unit="per month",
                             source=f"{D000} (Spring Shield halted the regime's advance)",
                             doc="Rate at which the guarantor's retaliation halts an offensive, at full deterrence and resolve.")
    sustain_days: float = param(14.0, ge=1, le=120, unit="days",
                                source="HISTORY (collapse = start of the next major ground offensive)",
                                doc="Days a ground offensive must be sustained to count as collapse.")
    clash_rate: float = param(0.05, ge=0, le=5, unit="per month at full tension, exposure and strikes",
                              source="HISTORY (Balyun strike, 27 Feb 2020)",
                              doc="Hazard of a direct guarantor-patron clash.")
    threat_scale: float = param(60.0, ge=1, le=1000, unit="incidents per month",
                                source=f"{D000}", doc="Monthly incidents against the protected side that count as full threat.")


class Event(Strict):
    """A scheduled change of parameters, at a month from the start or at a date."""

    label: str = ""
    at: dt.date | None = None
    """Date of the event."""
    month: float | None = Field(None, ge=0, le=600)
    """Months from the scenario start (alternative to `at`)."""
    set: dict[str, float] = Field(min_length=1)
    """Key paths (like `actors.russia.distraction`) and their new values."""

    @model_validator(mode="before")
    @classmethod
    def _numeric_values(cls, data):
        if isinstance(data, dict) and isinstance(data.get("set"), dict):
            bad = [f"set.{k}: must be a number, not {_toml_text(v)}" for k, v in data["set"].items()
                   if isinstance(v, (bool, str)) or (isinstance(v, float) and math.isnan(v))]
            if bad:
                raise ValueError("; ".join(bad))
        return data

    @model_validator(mode="after")
    def _one_time(self) -> "Event":
        if (self.at is None) == (self.month is None):
            raise ValueError("give exactly one of 'at' (a date) or 'month' (months from the start)")
        return self


class Scenario(Strict):
    """A ceasefire scenario: who is involved, in what state, and what happens when."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    """Identifier used in result directory names: letters, digits, '_', '.', '-'."""
    description: str
    """The arrangement whose durability is modelled and what counts as its collapse, in plain words."""
    sources: list[str] = Field(default_factory=list)
    """Source documents (file names in shared/seeds) the values rest on."""
    start: dt.date
    """Date the ceasefire (or the forecast) starts; events given by date are counted from it."""
    horizon_months: int = Field(ge=1, le=600, description="Months simulated (1 to 600); runs still holding "
                                "then are censored.", json_schema_extra={"unit": "months"})
    """Months simulated, 1 to 600; runs still holding at the horizon are right-censored."""
    step_days: int = Field(7, ge=1, le=31, description="Length of one step in days (1 to 31).",
                           json_schema_extra={"unit": "days"})
    """Days per step, 1 to 31 (default 7); hazards are per month and converted with dt = days / 30.44."""
    actors: dict[str, Actor] = Field(min_length=2)
    processes: Processes = Processes()
    dynamics: Dynamics = Dynamics()
    events: dict[str, Event] = Field(default_factory=dict)
    observed: dict[str, object] | None = None
    """Observed outcome of a historical case: never read by the model."""

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        names = set(self.actors)
        errors = []

        def need(where: str, ref: str, role: str | None = None) -> None:
            if ref not in names:
                errors.append(f"{where}: '{ref}' is not a declared actor (actors are: {', '.join(sorted(names))})")
            elif role and self.actors[ref].role != role:
                errors.append(f"{where}: '{ref}' is a {self.actors[ref].role}, not a {role}")

        for key, actor in self.actors.items():
            if isinstance(actor, Guarantor):
                for ref in actor.protects:
                    need(f"actors.{key}.protects", ref, "belligerent")
            elif isinstance(actor, Patron):
                for ref in actor.backs:
                    need(f"actors.{key}.backs", ref, "belligerent")
                if actor.guarantor:
                    need(f"actors.{key}.guarantor", actor.guarantor, "guarantor")
            elif isinstance(actor, Belligerent):
                for ref in actor.opposes:
                    need(f"actors.{key}.opposes", ref, "belligerent")
                if key in actor.opposes:
                    errors.append(f"actors.{key}.opposes: an actor cannot oppose itself")
            elif isinstance(actor, Pretext):
                need(f"actors.{key}.hosted_by", actor.hosted_by, "belligerent")
            elif isinstance(actor, Supporter):
                need(f"actors.{key}.supports", actor.supports, "belligerent")
        for ref in self.processes.economy.affects:
            need("processes.economy.affects", ref, "belligerent")
        for ref in self.processes.other_fronts.affects:
            need("processes.other_fronts.affects", ref, "belligerent")
        if not any(isinstance(a, Belligerent) for a in self.actors.values()):
            errors.append("actors: at least one belligerent is needed")
        if errors:
            raise ValueError("; ".join(errors))
        return self

    @property
    def dt_months(self) -> float:
        return self.step_days / DAYS_PER_MONTH

    def event_month(self, event: Event) -> float:
        if event.month is not None:
            return event.month
        return (event.at - self.start).days / DAYS_PER_MONTH


DAYS_PER_MONTH = 365.25 / 12
