"""The pydantic schema of a scenario: actors by role, the agreement, fronts, processes, dynamics, events.

Every numeric field carries its range, unit and the claim it stands for, citing the repository's
bibliography (``docs/SOURCES.md``) by key in the form ``[@key]``: ``[@seed000]`` is the Syrian Dialogue
Center paper of March 2021 that names the four factors (Turkish deterrence, Russia's interest in
Ankara, regime exhaustion, HTS as a pretext), ``[@seed002]`` the TIMEP interview of December 2024,
``[@seed003]`` the Syrian Dialogue Center report of August 2025 on Russia after Assad, and so on.

An actor holds one role or several (``role = ["guarantor", "patron"]``): its table then accepts the
fields of every role it holds, and a field that two roles share (``commitment``, ``strength``) is one
value for both.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, SerializeAsAny, ValidationError, create_model, model_validator

from sim.params import param

DAYS_PER_MONTH = 365.25 / 12


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
                elif isinstance(value, float) and not math.isfinite(value):
                    problems.append(f"{name}: must be a finite number, not {value!r}")
            elif annotation is bool and not isinstance(value, bool):
                problems.append(f"{name}: must be true or false, not {_toml_text(value)}")
        if problems:
            raise ValueError("; ".join(problems))
        return data


# --- distributions over settings (scenario uncertainty) -----------------------------------------

class Distribution(Strict):
    """A setting the text allows to lie in a range, drawn per draw group on its own random stream.

    Exactly one of ``uniform = [low, high]``, ``loguniform = [low, high]`` or
    ``triangular = [low, mode, high]``.
    """

    uniform: list[float] | None = None
    loguniform: list[float] | None = None
    triangular: list[float] | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> "Distribution":
        given = [k for k in ("uniform", "loguniform", "triangular") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform = [low, high], loguniform = [low, high], "
                             "triangular = [low, mode, high]")
        values = getattr(self, given[0])
        need = 3 if given[0] == "triangular" else 2
        if len(values) != need or not all(math.isfinite(v) for v in values):
            raise ValueError(f"{given[0]} needs {need} finite numbers")
        if not all(a <= b for a, b in zip(values, values[1:])) or values[0] == values[-1]:
            raise ValueError(f"{given[0]}: the numbers must increase (low < high)")
        if given[0] == "loguniform" and values[0] <= 0:
            raise ValueError("loguniform needs low > 0")
        return self

    @property
    def kind(self) -> str:
        return next(k for k in ("uniform", "loguniform", "triangular") if getattr(self, k) is not None)

    @property
    def bounds(self) -> tuple[float, float]:
        values = getattr(self, self.kind)
        return values[0], values[-1]

    def quantile(self, u):
        """The value at probability ``u`` (array): one uniform per draw makes the draw."""
        import numpy as np
        u = np.asarray(u, dtype=float)
        if self.kind == "uniform":
            a, b = self.uniform
            return a + u * (b - a)
        if self.kind == "loguniform":
            a, b = self.loguniform
            return np.exp(np.log(a) + u * (np.log(b) - np.log(a)))
        a, c, b = self.triangular
        cut = (c - a) / (b - a)
        return np.where(u < cut, a + np.sqrt(u * (b - a) * (c - a)), b - np.sqrt((1 - u) * (b - a) * (b - c)))

    def describe(self) -> str:
        return f"{self.kind}{getattr(self, self.kind)}"


Number = Union[float, Distribution]


# --- roles ------------------------------------------------------------------------------------

class ActorBase(Strict):
    label: str = Field("", description="Display name of the actor (the TOML key is its identifier).")

    @property
    def roles(self) -> tuple[str, ...]:
        return tuple(self.role) if isinstance(self.role, list) else (self.role,)

    def __reduce__(self):
        # the class of an actor with several roles is made at run time: rebuild it by its roles when unpickled
        return (_rebuild_actor, (self.roles, self.model_dump()))


def _rebuild_actor(roles: tuple[str, ...], data: dict) -> "ActorBase":
    return actor_class(roles).model_validate(data)


class Guarantor(ActorBase):
    """Protects a side and holds it back (Turkey in Idlib): deterrence, retaliation, restraint."""

    role: Literal["guarantor"]
    protects: list[str] = Field(min_length=1, description="Belligerents this guarantor protects (and holds back).")
    deterrence: float = param(
        ..., ge=0, le=1, unit="index 0-1 (0 none, 1 decisive)",
        source="[@seed000] factor 1",
        doc="Military weight deployed at signing to deter an offensive on the protected side: troops and posts, "
        "armed drones, air defence given to allies. 0 for a guarantor without troops. Decays without "
        "reinforcement (dynamics.deterrence_decay), rises under threat (reinforcement).",
    )
    resolve: float = param(
        ..., ge=0, le=1, unit="probability-like index 0-1",
        source="[@seed000] factor 1",
        doc="Readiness to retaliate against an offensive on the protected side (0: no fire on the attacker; "
        "1: a declared operation against it, as Spring Shield).",
    )
    exposure: float = param(
        0.5, ge=0, le=1, unit="index 0-1",
        source="[@seed000] (encircled observation posts)",
        doc="How exposed its troops are to the rival patron's air operations (encircled posts). "
        "Scales the hazard of a direct guarantor-patron clash.",
    )
    restraint: float = param(
        0.8, ge=0, le=1, unit="index 0-1",
        source="[@seed000] (Turkey committed to the agreement); [@seed002] (a 'green light' in 2024)",
        doc="Its policy at signing of holding back the side it protects. The restraint it exerts is a state: "
        "this policy, relaxed by the green light (the other side's weakening, the rival patron's "
        "distraction, friction with that patron; GuarantorAgent.adjust_restraint).",
    )
    reinforcement: float = param(
        0.1, ge=0, le=1, unit="fraction of the gap to full deterrence per month of full threat",
        source="[@seed000] (troop build-up after the Balyun strike)",
        doc="How fast deterrence rises when the protected side is under air and artillery pressure.",
    )
    withdrawal: float = param(
        0.2, ge=0, le=1, unit="fraction of exposure removed per month at full tension",
        source="[@seed000] (withdrawal of encircled posts)",
        doc="How fast it pulls back exposed posts when tension rises.",
    )


class Patron(ActorBase):
    """Backs belligerents with air power, arms and political cover, weighing a rival guarantor (Russia)."""

    role: Literal["patron"]
    backs: list[str] = Field(min_length=1, description="Belligerents this patron backs.")
    guarantor: str = Field("", description=(
        "The rival guarantor (protecting the other side) whose relationship this patron weighs (empty: none)."))
    interest_in_guarantor: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source="[@seed000] factor 2; [@seed001] (S-400, fighter offers)",
        doc="Value it puts on its relationship with the rival guarantor (political tracks, defence deals): a cost "
        "of backing an offensive on the guarantor's side and a brake on a direct clash.",
    )
    air_power: float = param(
        ..., ge=0, le=1, unit="index 0-1 (share of the 2019-20 Russian campaign level in Idlib)",
        source="[@seed000]",
        doc="Air power available in the theatre, for cover of offensives and for defence of the backed side.",
    )
    distraction: float = param(
        ..., ge=0, le=1, unit="index 0-1 (share of attention and assets drawn elsewhere)",
        source="[@seed002] (thin Russian air support in 2024, war in Ukraine); [@seed003]",
        doc="How far other theatres draw it away: cuts its air power and arms, and is a cost of a new campaign.",
    )
    commitment: float = param(
        1.0, ge=0, le=1, unit="index 0-1",
        source="[@seed003] (scenario 1 open support vs scenario 2 limited, indirect support)",
        doc="How openly it backs its clients: scales its air operations, defensive air and arms.",
    )
    arms_supply: float = param(
        0.0, ge=0, le=1, unit="index 0-1 (1: arming at the most the documents describe)",
        source="[@seed003] scenario 1 ('arming them and enabling them in the field')",
        doc="Arms and training it delivers: raises its clients' strength over time at dynamics.arming_rate.",
    )


class Belligerent(ActorBase):
    """Holds territory and fights (the regime; the opposition factions; the SDF; ...)."""

    role: Literal["belligerent"]
    opposes: list[str] = Field(min_length=1, description="Belligerents it fights across a ceasefire line.")
    needs_air_cover: bool = Field(False, description=(
        "True when it cannot launch a ground offensive without its patron's air cover ([@seed000] on the regime):\nits"
        " patron then decides the campaign."))
    consent_from: list[str] = Field(default_factory=list, description=(
        "Actors whose consent it needs to launch an offensive: a guarantor (its restraint) or a patron (its decision\n"
        "to back a campaign). A guarantor protecting it holds it back whether listed or not."))
    ambition: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source="[@seed000] (the regime's declared aim to retake all of Syria)",
        doc="Wish to take territory across the line.",
    )
    strength: float = param(
        ..., ge=0, le=1, unit="index 0-1 (relative fighting power)",
        source="[@seed000]",
        doc="Fighting power of its own forces; grows when a patron arms it.",
    )
    readiness: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source="[@seed000] factor 3",
        doc="Operational readiness for an offensive before exhaustion and other fronts are applied.",
    )
    readiness_growth: float = param(
        0.0, ge=-0.5, le=0.5, unit="change of readiness per year",
        source="[@seed000] (unification of the factions under one military council, 2020)",
        doc="Trend of readiness over time, as known at the start.",
    )
    exhaustion: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source="[@seed000] factor 3 (sanctions, the pound's collapse, internal rifts)",
        doc="Economic and military exhaustion at the start; follows the economy process if listed there.",
    )
    violation_propensity: float = param(
        0.5, ge=0, le=1, unit="index 0-1",
        source="[@seed000] (violations and shelling under the ceasefire)",
        doc="Propensity to shell and raid across the line while the ceasefire holds.",
    )


class Pretext(ActorBase):
    """An armed group excluded from the agreement whose presence and attacks justify escalation (HTS)."""

    role: Literal["pretext"]
    hosted_by: str = Field(description="The belligerent in whose territory it operates.")
    pretext_strength: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source="[@seed000] factor 4 (HTS excluded from every agreement)",
        doc="How far its presence serves the patron of the other side as a standing pretext for escalation.",
    )
    transformation: float = param(
        ..., ge=0, le=1, unit="index 0-1 (1: verified transformation, delisted)",
        source="[@seed000] factor 4 (split from al-Qaeda, fighting Hurras al-Din, securing patrols)",
        doc="How far it has actually moderated: lowers its attacks on patrols and, as far as the patron "
        "recognises it, the pretext.",
    )
    recognised_by_patron: float = param(
        0.5, ge=0, le=1, unit="index 0-1 (0: the patron ignores the transformation)",
        source="[@seed000] factor 4 (Russia ignores HTS's transformation and keeps accusing it)",
        doc="How far the patron of the other side credits the transformation when it weighs the pretext.",
    )
    patrol_attack_rate: float = param(
        ..., ge=0, le=10, unit="attacks per month",
        source="[@seed004] (IEDs on joint M4 patrols, 2020)",
        doc="Rate of spoiler attacks on patrols and posts, before transformation.",
    )


class Supporter(ActorBase):
    """Adds fighting power to a belligerent (Iran-backed militias, Hezbollah; a foreign army)."""

    role: Literal["supporter"]
    supports: str = Field(description="The belligerent it supports.")
    strength: float = param(
        ..., ge=0, le=1, unit="index 0-1 (same scale as belligerent strength)",
        source="[@seed000]; [@seed002]",
        doc="Fighting power it adds to the supported side.",
    )
    commitment: float = param(
        1.0, ge=0, le=1, unit="index 0-1",
        source="[@seed002]; [@seed003]",
        doc="Share of that power actually committed to this front.",
    )


class Monitor(ActorBase):
    """Monitors, joint patrols or peacekeepers on the lines of contact (OSCE SMM; joint patrols on the M4)."""

    role: Literal["monitor"]
    watches: list[str] = Field(default_factory=list, description=(
        "Belligerents whose lines it watches (empty: every line)."))
    presence: float = param(
        ..., ge=0, le=1, unit="index 0-1 (0.2 a small unarmed mission, 0.5 a large one, 1 an armed interposition force)",
        source="[@fortna-2004] (monitoring and peacekeeping lower the risk of renewed war)",
        doc="Size and mandate of the presence: lowers violations and the hazard of launching an offensive "
        "on the lines it watches (dynamics.monitor_violation_effect, monitor_launch_effect).",
    )
    withdrawal_rate: float = param(
        0.02, ge=0, le=5, unit="per month",
        source="judgement (missions are withdrawn or suspended; joint patrols stopped in 2020)",
        doc="Hazard of the presence being withdrawn or suspended, doubled at full violence on its lines.",
    )


class Mediator(ActorBase):
    """A third party without troops that brokered the agreement and presses the parties to keep or renew it."""

    role: Literal["mediator"]
    mediates: list[str] = Field(min_length=1, description="Belligerents it presses.")
    leverage: float = param(
        ..., ge=0, le=1, unit="index 0-1",
        source="[@kroc-pam] (third-party pressure and guarantees in implementation)",
        doc="Influence over the parties it presses (aid, sanctions, security guarantees): lowers their launch "
        "hazard (dynamics.mediation_effect) and raises the chance an expiring agreement is renewed.",
    )


ROLE_CLASSES: dict[str, type[ActorBase]] = {
    c.model_fields["role"].annotation.__args__[0]: c
    for c in (Guarantor, Patron, Belligerent, Pretext, Supporter, Monitor, Mediator)}
ROLE_NAMES = tuple(ROLE_CLASSES)


@functools.lru_cache(maxsize=None)
def actor_class(roles: tuple[str, ...]) -> type[ActorBase]:
    """The schema class of an actor holding ``roles`` (the fields of every role it holds)."""
    if len(roles) == 1:
        return ROLE_CLASSES[roles[0]]
    bases = tuple(ROLE_CLASSES[r] for r in roles)
    return create_model("+".join(roles), __base__=bases,
                        role=(list[Literal[tuple(ROLE_NAMES)]], Field(min_length=2)))


def roles_in(raw: Any) -> tuple[str, ...] | None:
    """The roles named by a raw actor table, or None where ``role`` is missing or malformed."""
    role = raw.get("role") if isinstance(raw, dict) else None
    if isinstance(role, str):
        return (role,)
    if isinstance(role, list) and role and all(isinstance(r, str) for r in role):
        return tuple(role)
    return None


def _validate_actor(key: str, raw: Any) -> tuple[ActorBase | None, list[dict]]:
    loc = ("actors", key)
    if not isinstance(raw, dict):
        return None, [{"type": "model_type", "loc": loc, "input": raw,
                       "ctx": {"class_name": "actor table"}}]
    roles = roles_in(raw)
    allowed = ", ".join(sorted(ROLE_NAMES))
    if roles is None:
        if "role" not in raw:
            return None, [{"type": "value_error", "loc": (*loc, "role"), "input": raw,
                           "ctx": {"error": ValueError(f"required key is missing (one of {allowed}, or a list of them)")}}]
        return None, [{"type": "value_error", "loc": (*loc, "role"), "input": raw.get("role"),
                       "ctx": {"error": ValueError(f"must be one of {allowed}, or a list of them")}}]
    unknown = [r for r in roles if r not in ROLE_CLASSES]
    if unknown or len(set(roles)) != len(roles):
        why = f"role '{unknown[0]}' is not one of {allowed}" if unknown else "a role is listed twice"
        return None, [{"type": "value_error", "loc": (*loc, "role"), "input": raw.get("role"),
                       "ctx": {"error": ValueError(why)}}]
    try:
        return actor_class(roles).model_validate(raw), []
    except ValidationError as exc:
        return None, [{**{k: v for k, v in e.items() if k in ("type", "input", "ctx")}, "loc": (*loc, *e["loc"])}
                      for e in exc.errors()]


# --- the agreement ----------------------------------------------------------------------------

# Ordinal scores of an agreement's form and of the level of its signatories. The ordering is the
# literature's ([@fortna-2003]: stronger agreements last longer; [@clayton-sticher-2021]: written,
# definitive agreements outlast declarations and unilateral cessations); the values are judgement.
FORM_SCORE = {"written": 1.0, "declaration": 0.6, "unilateral": 0.3}
LEVEL_SCORE = {"head_of_state": 1.0, "minister": 0.8, "commander": 0.6, "local": 0.4}


class Agreement(Strict):
    """What the agreement is, coded from its text and its signing: who is bound, how firmly, for how long."""

    form: Literal["written", "declaration", "unilateral"] = Field("written", description=(
        "`written`: a text signed by the parties or their guarantors; `declaration`: a joint statement or verbal\n"
        "understanding announced by outside powers; `unilateral`: announced by one side alone."))
    signatory_level: Literal["head_of_state", "minister", "commander", "local"] = Field("head_of_state", description=(
        "The highest office of a party (a belligerent, or a listed guarantor or patron that is itself a party to "
        "the fighting) that signed it, or publicly ordered or announced its own side's compliance, on or before "
        "`start`; heads of government count as `head_of_state`, and mediators' and uninvolved sponsors' levels do "
        "not count (rule 2 of docs/case-format.md)."))
    signatories: list[str] = Field(default_factory=list, description=(
        "Actors bound by it (belligerents, patrons, guarantors). A patron's commitment weighs on its decision to\nback"
        " a campaign; a belligerent's on its decision to launch one."))
    comprehensive: bool = Field(False, description=(
        "Part of a political settlement (true) or a plain cessation of hostilities (false)."))
    earlier_failures: int = param(
        0, ge=0, le=100, unit="agreements",
        source="[@seed000] (Idlib's agreements collapsed one after another)",
        doc="Ceasefires of the current war that had already failed at signing (rule 4 of docs/case-format.md): "
        "those that entered into force, covered a line between the case's belligerents, ran at least 72 hours or "
        "open-ended, and ended before signing by fighting that meets the case's collapse rule. The current war runs "
        "back to the first exchange after a lull of at least twelve months without such fighting; ceasefires "
        "concluded before that onset are not counted, even when the current war ended them. They cost the new "
        "one credibility (dynamics.failure_credibility).")
    term_months: float = param(
        0.0, ge=0, le=120, unit="months (0: open-ended)",
        source="[@clayton-sticher-2021] (truces with a fixed term)",
        doc="Fixed term after which the agreement lapses unless renewed.",
    )
    renewal: float = param(
        1.0, ge=0, le=1, unit="probability per expiry",
        source="judgement, from the parties' statements at signing",
        doc="Chance that it is renewed at each expiry of its term (mediators raise it); once it lapses, no "
        "signatory is bound any more.",
    )

    @property
    def strength(self) -> float:
        """How firmly the text binds its signatories, 0-1: form score x level score (x 0.85 for a plain
        cessation); the model discounts it for earlier failures (``AgreementState``)."""
        bonus = 1.0 if self.comprehensive else 0.85
        return FORM_SCORE[self.form] * LEVEL_SCORE[self.signatory_level] * bonus


class Front(Strict):
    """A line of contact between two belligerents, with its own outcome."""

    between: list[str] = Field(min_length=2, max_length=2)
    label: str = ""
    linked: list[str] = Field(default_factory=list, description=(
        "Other fronts whose launch hazards rise when this one collapses (dynamics.front_linkage)."))


# --- exogenous processes ----------------------------------------------------------------------

class CrossTheatreTension(Strict):
    """Tension between patron and guarantor in other theatres (Libya, Karabakh, Ukraine)."""

    initial: float = param(0.3, ge=0, le=1, unit="index 0-1", source="[@seed000] factor 2 (Libya, Karabakh)",
                           doc="Level at the start.")
    mean: float = param(0.3, ge=0, le=1, unit="index 0-1", source="[@seed000] factor 2",
                        doc="Long-run level it reverts to.")
    reversion: float = param(0.3, ge=0, le=5, unit="per month", source="[@seed000] (calm in Libya reflected in Idlib)",
                             doc="Speed of return to the long-run level.")
    volatility: float = param(0.08, ge=0, le=1, unit="per square-root month", source="[@seed000]",
                              doc="Size of month-to-month fluctuations.")
    crisis_rate: float = param(1.0, ge=0, le=12, unit="crises per year",
                               source="[@seed000] (strike on the Faylaq al-Sham camp during the Karabakh war)",
                               doc="Rate of sudden cross-theatre crises.")
    crisis_size: float = param(0.25, ge=0, le=1, unit="jump in tension", source="[@seed000]",
                               doc="Jump in tension at a crisis.")


class Economy(Strict):
    """The economy of sanctioned belligerents (sanctions, the currency)."""

    affects: list[str] = Field(default_factory=list, description="Belligerents whose exhaustion follows this economy.")
    initial_stress: float = param(0.5, ge=0, le=1, unit="index 0-1 (1: collapse)",
                                  source="[@seed000] factor 3", doc="Economic stress at the start.")
    sanctions: float = param(0.6, ge=0, le=1, unit="index 0-1", source="[@seed000] factor 3 (Caesar Act)",
                             doc="Long-run stress the sanctions regime pushes the economy towards.")
    reversion: float = param(0.1, ge=0, le=5, unit="per month", source="[@seed000]",
                             doc="Speed of approach to that level.")
    volatility: float = param(0.05, ge=0, le=1, unit="per square-root month", source="[@seed000]",
                              doc="Size of monthly economic shocks.")
    exhaustion_rate: float = param(0.05, ge=0, le=1, unit="per month", source="[@seed000] factor 3",
                                   doc="Speed at which a belligerent's exhaustion follows economic stress.")


class OtherFronts(Strict):
    """Other fronts that draw forces away (ISIS in the Badia, the SDF in the north-east)."""

    affects: list[str] = Field(default_factory=list, description=(
        "Belligerents whose readiness is drawn down by these fronts."))
    initial: float = param(0.1, ge=0, le=1, unit="share of forces drawn away",
                           source="[@seed000] factor 3 (ISIS attacks on regime convoys in the Badia)",
                           doc="Draw at the start.")
    mean: float = param(0.1, ge=0, le=1, unit="share of forces drawn away", source="[@seed000]", doc="Long-run draw.")
    reversion: float = param(0.3, ge=0, le=5, unit="per month", source="[@seed000]",
                             doc="Speed of return to the long-run draw.")
    volatility: float = param(0.05, ge=0, le=1, unit="per square-root month", source="[@seed000]", doc="Fluctuations.")
    flare_rate: float = param(1.0, ge=0, le=12, unit="flare-ups per year", source="[@seed000] (Qamishli siege, Badia)",
                              doc="Rate of flare-ups on other fronts.")
    flare_size: float = param(0.15, ge=0, le=1, unit="jump in share drawn away", source="[@seed000]",
                              doc="Size of a flare-up.")


class Processes(Strict):
    cross_theatre_tension: CrossTheatreTension = CrossTheatreTension()
    economy: Economy = Economy()
    other_fronts: OtherFronts = OtherFronts()


# --- dynamics: global rates, weights and scales --------------------------------------------------

class Dynamics(Strict):
    """Global rates, weights and scales of the step. ``prior`` marks those a calibration may fit."""

    violation_rate: float = param(8.0, ge=0, le=200, unit="incidents per month at full propensity",
                                  source="[@seed000] (violations continued under the ceasefire)",
                                  doc="Rate of shelling and raids across a line.")
    air_strike_rate: float = param(60.0, ge=0, le=500, unit="strikes per month at full air power, in a campaign",
                                   source="[@acled-regional-overviews] (Russian attacks in north-west Syria)",
                                   doc="Rate of a patron's air strikes on the other side of a front during a campaign "
                                   "it backs; a quarter of it outside campaigns.")
    # The upper bounds only catch typos: a pooled posterior multiplies a fitted rate by its conflict's effect
    # exp(sigma z), and for a conflict outside the case base (z drawn anew) that reaches thousands a month.
    # Above a few dozen a month a side at full motive launches within a day, so larger values change nothing.
    offensive_rate_covered: float = param(
        8.0, ge=0, le=1e6, unit="launches per month at full motive, under air cover",
        source="[@seed000] (every earlier Idlib agreement ended in a regime offensive under Russian air cover)",
        prior=("log", 0.5, 40.0),
        doc="Hazard that a side which needs a patron's air cover launches a ground offensive while a campaign "
        "backs it, at full ambition, readiness and advantage.")
    offensive_rate_independent: float = param(
        0.5, ge=0, le=1e6, unit="launches per month at full motive",
        source="[@clayton-et-al-2022-cf-dataset]; [@stevenson-2016] (base rates of ceasefire failure)",
        prior=("log", 0.02, 10.0),
        doc="Hazard that a side which needs no patron's air cover launches a ground offensive, at full ambition, "
        "readiness, advantage and consent, before deterrence, agreement, monitors and mediators.")
    advantage_exponent: float = param(2.0, ge=0, le=6, unit="exponent",
                                      source="judgement (an offensive needs local superiority)",
                                      doc="How steeply the launch hazard rises with the attacker's share of the "
                                      "balance of forces on the ground.")
    campaign_rate: float = param(1.0, ge=0, le=30, unit="per month at full incentive",
                                 source="[@seed000] (the decision to resume operations is mainly Russia's)",
                                 prior=("log", 0.1, 10.0),
                                 doc="Hazard that a patron decides to back a campaign on a front, times the "
                                 "logistic of its net incentive.")
    campaign_end_rate: float = param(0.5, ge=0, le=30, unit="per month at full disincentive",
                                     source="[@seed000] (Russian escalations came in waves)",
                                     prior=("log", 0.05, 5.0),
                                     doc="Hazard that a patron abandons a campaign it backs, times the logistic of "
                                     "minus its net incentive.")
    cover_threshold: float = param(0.0, ge=-3, le=3, unit="net incentive",
                                   source="[@seed000]", prior=("linear", -1.0, 1.0),
                                   doc="Net incentive at which the start and stop hazards are each at half their "
                                   "rates (campaign_rate / 2, campaign_end_rate / 2).")
    cover_scale: float = param(0.3, ge=0.05, le=3, unit="net incentive",
                               source="judgement: a decision that responds over the whole range of incentives",
                               prior=("log", 0.1, 1.0),
                               doc="Spread of the patron's decision around the threshold; bounded away from 0 so "
                               "that no factor is inert until it flips.")
    weight_gain: float = param(1.0, ge=0, le=5, unit="weight", source="[@seed000] (territory the regime wants)",
                               doc="Weight of the client's expected gain in the patron's incentive.")
    weight_pretext: float = param(1.0, ge=0, le=5, unit="weight", source="[@seed000] factor 4",
                                  doc="Weight of the pretext in the patron's incentive.")
    weight_tension: float = param(0.5, ge=0, le=5, unit="weight", source="[@seed000] factor 2 (cross-theatre linkage)",
                                  doc="Weight of cross-theatre tension in the patron's incentive.")
    weight_deterrence: float = param(1.5, ge=0, le=6, unit="weight", source="[@seed000] factor 1",
                                     doc="Cost of the protecting guarantor's shield in each decision about an offensive: "
                                     "a patron's decision to back it, and the launch decision of a side that needs "
                                     "no air cover (once in each decision-maker's decision).")
    weight_interest: float = param(1.0, ge=0, le=5, unit="weight", source="[@seed000] factor 2",
                                   doc="Weight of the relationship with the rival guarantor in the patron's cost.")
    weight_agreement: float = param(1.0, ge=0, le=6, unit="weight",
                                    source="[@fortna-2003]; [@seed000] (Moscow's lack of real will to keep agreements)",
                                    prior=("linear", 0.0, 4.0),
                                    doc="Cost of breaking the agreement to a bound actor, per unit of its "
                                    "commitment.")
    failure_credibility: float = param(0.2, ge=0, le=2, unit="exponent",
                                       source="[@seed000] (Idlib's agreements collapsed one after another for "
                                       "Moscow's lack of will to keep them); the literature is divided on the sign",
                                       prior=("linear", 0.0, 1.0),
                                       doc="How much the agreements that had already failed in the conflict lower "
                                       "the commitment a new one commands: strength x (1 + failures) ** -this.")
    case_frailty_sd: float = param(0.0, ge=0, le=3, unit="standard deviation of a log multiplier",
                                   source="[@box-steffensmeier-jones-2004] (frailty: unmeasured case-level "
                                   "heterogeneity in the hazard); 0 until calibrated: the calibrated fragments set it. "
                                   "Prior up to the schema's bound of 3: with an upper end of 2 every fit's posterior "
                                   "crowded that end (medians 1.71-1.79, 90% intervals reaching 1.89-1.99)",
                                   prior=("linear", 0.0, 3.0),
                                   doc="Spread of what makes one ceasefire more fragile than another with the same "
                                   "coded features: each replication's launch rates are multiplied by "
                                   "exp(this x a standard normal) drawn once at signing.")
    agreement_erosion: float = param(0.5, ge=0, le=12, unit="per year",
                                     source="[@seed000] (constructive ambiguity: the stronger side reinterprets vague texts)",
                                     prior=("log", 0.05, 3.0),
                                     doc="Rate at which commitment to the agreement erodes after signing.")
    weight_distraction: float = param(1.0, ge=0, le=5, unit="weight", source="[@seed002]; [@seed003]",
                                      doc="Weight of distraction in the patron's net incentive (a cost that slows "
                                      "starting a campaign and hastens abandoning one).")
    exhaustion_effect: float = param(0.6, ge=0, le=1, unit="share of readiness lost at full exhaustion",
                                     source="[@seed000] factor 3 (exhaustion cuts readiness)",
                                     doc="How much exhaustion cuts a belligerent's effective readiness.")
    air_weight: float = param(0.6, ge=0, le=2, unit="strength units at full air power",
                              source="[@seed000] (no offensive without Russian air cover)",
                              doc="Fighting power a patron's air power adds to the side it covers or defends.")
    grievance_weight: float = param(1.0, ge=0, le=5, unit="weight",
                                    source="[@seed000] (factions answer shelling)",
                                    doc="How much recent attacks by the other side raise a belligerent's motive.")
    grievance_scale: float = param(30.0, ge=1, le=1000, unit="incidents",
                                   source="judgement", doc="Recent incidents at which grievance reaches 63% of its maximum.")
    memory_months: float = param(2.0, ge=0.1, le=24, unit="months",
                                 source="[@seed004] (attacks on patrols used as pretext)",
                                 doc="Time over which incidents and attacks stay salient.")
    attack_salience: float = param(0.25, ge=0, le=1, unit="pretext per attack",
                                   source="[@seed004]", doc="Pretext added by one spoiler attack on a patrol.")
    halt_rate: float = param(2.0, ge=0, le=20, unit="per month",
                             source="[@seed000] (Spring Shield halted the regime's advance)",
                             prior=("log", 0.2, 10.0),
                             doc="Rate at which a guarantor's retaliation (or a patron's defensive air) halts an "
                             "offensive, at full deterrence and resolve.")
    sustain_days: float = param(14.0, ge=1, le=120, unit="days",
                                source="judgement: collapse = the start of the next major ground offensive, not a raid",
                                doc="Days a ground offensive must be sustained to count as collapse.")
    clash_rate: float = param(0.05, ge=0, le=5, unit="per month at full friction, exposure and operations",
                              source="[@seed000] (the Balyun strike on Turkish troops, 27 Feb 2020)",
                              doc="Hazard of a direct guarantor-patron clash.")
    threat_scale: float = param(60.0, ge=1, le=1000, unit="incidents per month",
                                source="judgement", doc="Monthly incidents against a side that count as full threat.")
    deterrence_decay: float = param(0.15, ge=0, le=5, unit="per year",
                                    source="judgement: deterrence not demonstrated or reinforced loses credibility",
                                    prior=("log", 0.02, 1.0),
                                    doc="Rate at which a guarantor's deterrence decays without reinforcement.")
    restraint_adjust: float = param(0.5, ge=0.01, le=10, unit="per month",
                                    source="judgement", doc="Speed at which a guarantor's restraint follows its target.")
    green_light_weakness: float = param(2.0, ge=0, le=10, unit="weight per share of the line lost",
                                        source="[@seed002] (the regime's line of conscripts gave way in 2024)",
                                        doc="How far the weakening of the other side's line (since signing) relaxes "
                                        "a guarantor's restraint.")
    green_light_distraction: float = param(1.0, ge=0, le=10, unit="weight",
                                           source="[@seed002] (Russian air support thin: the war in Ukraine)",
                                           doc="How far the rival patron's distraction relaxes a guarantor's restraint.")
    green_light_friction: float = param(0.5, ge=0, le=10, unit="weight",
                                        source="[@seed000] factor 2 (tension signalled through Idlib)",
                                        doc="How far friction with the rival patron relaxes a guarantor's restraint.")
    friction_rate: float = param(0.5, ge=0, le=10, unit="per month",
                                 source="judgement", doc="Speed at which guarantor-patron friction follows its drivers "
                                 "(cross-theatre tension, the patron's strikes on the guarantor's side).")
    arming_rate: float = param(0.15, ge=0, le=2, unit="strength per year at full supply",
                               source="[@seed003] scenario 1 (arming clients as parallel forces)",
                               doc="How fast a patron's arms raise a client's strength towards 1.")
    monitor_violation_effect: float = param(0.5, ge=0, le=1, unit="share of violations prevented at full presence",
                                            source="[@fortna-2004]",
                                            doc="How much a monitoring presence lowers violations on the lines it watches.")
    monitor_launch_effect: float = param(0.5, ge=0, le=0.95, unit="share of launch hazard removed at full presence",
                                         source="[@fortna-2004] (peacekeeping lowers the risk of renewed war substantially)",
                                         prior=("linear", 0.0, 0.9),
                                         doc="How much a monitoring presence lowers the hazard of launching an "
                                         "offensive across the lines it watches.")
    mediation_effect: float = param(0.3, ge=0, le=0.95, unit="share of launch hazard removed at full leverage",
                                    source="[@kroc-pam]", prior=("linear", 0.0, 0.9),
                                    doc="How much a mediator's pressure lowers a pressed side's launch hazard.")
    front_linkage: float = param(1.0, ge=0, le=20, unit="relative rise of the launch hazard",
                                 source="judgement ([@seed003]: the coast, Suwayda and the north-east move together)",
                                 doc="Rise of the launch hazards on a front after a front linked to it collapses.")


# --- events and the scenario --------------------------------------------------------------------

class Event(Strict):
    """A scheduled change of parameters, at a month from the start or at a date."""

    label: str = ""
    at: dt.date | None = Field(None, description="Date of the event.")
    month: Number | None = Field(None, description=(
        "Months from the scenario start (alternative to `at`); a distribution where the text gives no date."))
    set: dict[str, Number] = Field(min_length=1, description=(
        "Key paths (like `actors.russia.distraction`) and their new values (or distributions of them)."))

    @model_validator(mode="before")
    @classmethod
    def _numeric_values(cls, data):
        if isinstance(data, dict):
            if isinstance(data.get("set"), dict):
                bad = [f"set.{k}: must be a number or a distribution, not {_toml_text(v)}"
                       for k, v in data["set"].items()
                       if isinstance(v, (bool, str)) or (isinstance(v, float) and not math.isfinite(v))]
                if bad:
                    raise ValueError("; ".join(bad))
            month = data.get("month")
            if isinstance(month, (bool, str)) or (isinstance(month, float) and not math.isfinite(month)):
                raise ValueError(f"month: must be a number or a distribution, not {_toml_text(month)}")
            if isinstance(data.get("at"), (int, float)) and not isinstance(data.get("at"), bool):
                raise ValueError(f"at: must be a date (YYYY-MM-DD), not {_toml_text(data['at'])}")
        return data

    @model_validator(mode="after")
    def _one_time(self) -> "Event":
        if (self.at is None) == (self.month is None):
            raise ValueError("give exactly one of 'at' (a date) or 'month' (months from the start)")
        low = self.month.bounds[0] if isinstance(self.month, Distribution) else self.month
        high = self.month.bounds[1] if isinstance(self.month, Distribution) else self.month
        if low is not None and low < 0:
            raise ValueError(f"month: {low:g} is below the minimum 0")
        if high is not None and high > 600:
            raise ValueError(f"month: {high:g} is above the maximum 600")
        return self


class Scenario(Strict):
    """A ceasefire scenario: who is involved, in what state, and what happens when."""

    name: str = Field(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$", max_length=100, description=(
        "Identifier used in result directory names: letters, digits, '_', '.', '-' (not starting with '.' or '-')."))
    title: str = Field("", description="A short title for readers (reports use it before the description).")
    description: str = Field(description=(
        "The arrangement whose durability is modelled and what counts as its collapse, in plain words."))
    conflict: str = Field("", description=(
        "The conflict the case belongs to (historical cases: grouping for leave-one-conflict-out)."))
    sources: list[str] = Field(default_factory=list, description=(
        "Bibliography keys (docs/SOURCES.md) the values rest on."))
    start: dt.date = Field(description=(
        "Date the ceasefire (or the forecast) starts; events given by date are counted from it."))
    horizon_months: int = Field(ge=1, le=600, json_schema_extra={"unit": "months"}, description=(
        "Months simulated, 1 to 600; runs still holding at the horizon are right-censored."))
    step_days: int = Field(7, ge=1, le=31, json_schema_extra={"unit": "days"}, description=(
        "Days per step, 1 to 31 (default 7); hazards are per month and converted with dt = days / 30.44."))
    fine_start_days: int = Field(28, ge=0, le=366, json_schema_extra={"unit": "days"}, description=(
        "Days simulated one day at a time at the start, before steps of ``step_days``: most ceasefires that fail\ndo "
        "so in their first days or weeks ([@stevenson-2016]), and a truce of a few days needs a daily clock."))
    posterior: str | None = Field(None, description=(
        "A CSV of calibrated parameter draws (written by ``ceasefire calibrate``); replications are spread over its\n"
        "draws unless a run asks for point values. Resolved relative to the file that names it."))
    actors: dict[str, SerializeAsAny[ActorBase]] = Field(min_length=2)
    agreement: Agreement | None = None
    fronts: dict[str, Front] = Field(default_factory=dict)
    processes: Processes = Processes()
    dynamics: Dynamics = Dynamics()
    events: dict[str, Event] = Field(default_factory=dict)
    uncertain: dict[str, Distribution] = Field(default_factory=dict, description=(
        "Starting values the text allows to lie in a range: key path -> distribution (drawn per draw group)."))
    observed: dict[str, object] | None = Field(None, description=(
        "Observed outcome of a historical case: never read by the model."))

    @model_validator(mode="before")
    @classmethod
    def _build_actors(cls, data):
        if not isinstance(data, dict) or not isinstance(data.get("actors"), dict):
            return data
        built, errors = {}, []
        for key, raw in data["actors"].items():
            actor, problems = _validate_actor(key, raw)
            errors += problems
            if actor is not None:
                built[key] = actor
        if errors:
            raise ValidationError.from_exception_data("Scenario", errors)
        return {**data, "actors": built}

    @model_validator(mode="after")
    def _references(self) -> "Scenario":
        names = set(self.actors)
        errors = []

        def need(where: str, ref: str, role: str | None = None) -> None:
            if ref not in names:
                errors.append(f"{where}: '{ref}' is not a declared actor (actors are: {', '.join(sorted(names))})")
            elif role and role not in self.actors[ref].roles:
                errors.append(f"{where}: '{ref}' is a {'+'.join(self.actors[ref].roles)}, not a {role}")

        for key, actor in self.actors.items():
            roles = actor.roles
            if "guarantor" in roles:
                for ref in actor.protects:
                    need(f"actors.{key}.protects", ref, "belligerent")
            if "patron" in roles:
                for ref in actor.backs:
                    need(f"actors.{key}.backs", ref, "belligerent")
                if actor.guarantor:
                    need(f"actors.{key}.guarantor", actor.guarantor, "guarantor")
                    if actor.guarantor == key:
                        errors.append(f"actors.{key}.guarantor: a patron cannot be its own rival guarantor")
            if "belligerent" in roles:
                for ref in actor.opposes:
                    need(f"actors.{key}.opposes", ref, "belligerent")
                if key in actor.opposes:
                    errors.append(f"actors.{key}.opposes: an actor cannot oppose itself")
                for ref in actor.consent_from:
                    if ref not in names:
                        need(f"actors.{key}.consent_from", ref)
                    elif not ({"guarantor", "patron"} & set(self.actors[ref].roles)):
                        errors.append(f"actors.{key}.consent_from: '{ref}' must be a guarantor or a patron "
                                      f"(it is a {'+'.join(self.actors[ref].roles)})")
                    elif key not in _clients_or_protected(self.actors[ref]):
                        errors.append(f"actors.{key}.consent_from: '{ref}' neither protects nor backs '{key}'")
            if "pretext" in roles:
                need(f"actors.{key}.hosted_by", actor.hosted_by, "belligerent")
            if "supporter" in roles:
                need(f"actors.{key}.supports", actor.supports, "belligerent")
            if "monitor" in roles:
                for ref in actor.watches:
                    need(f"actors.{key}.watches", ref, "belligerent")
            if "mediator" in roles:
                for ref in actor.mediates:
                    need(f"actors.{key}.mediates", ref, "belligerent")
        for ref in self.processes.economy.affects:
            need("processes.economy.affects", ref, "belligerent")
        for ref in self.processes.other_fronts.affects:
            need("processes.other_fronts.affects", ref, "belligerent")
        if self.agreement is not None:
            for ref in self.agreement.signatories:
                need("agreement.signatories", ref)
        if not any("belligerent" in a.roles for a in self.actors.values()):
            errors.append("actors: at least one belligerent is needed")
        if not errors:   # a consequence of a broken reference would only repeat it
            for key, actor in self.actors.items():
                if "belligerent" in actor.roles and actor.needs_air_cover and not any(
                        "patron" in a.roles and key in a.backs for a in self.actors.values()):
                    errors.append(f"actors.{key}.needs_air_cover: no patron backs '{key}', so it could never "
                                  f"attack (declare the patron, or set needs_air_cover = false)")
        lines = self.lines()
        for name, front in self.fronts.items():
            for ref in front.between:
                need(f"fronts.{name}.between", ref, "belligerent")
            if front.between[0] == front.between[1]:
                errors.append(f"fronts.{name}.between: a front needs two different belligerents")
            elif frozenset(front.between) not in lines and all(r in names for r in front.between):
                errors.append(f"fronts.{name}.between: neither {front.between[0]} nor {front.between[1]} "
                              f"opposes the other")
            for ref in front.linked:
                if ref not in self.fronts:
                    errors.append(f"fronts.{name}.linked: '{ref}' is not a declared front "
                                  f"(fronts are: {', '.join(sorted(self.fronts))})")
        seen = {}
        for name, front in self.fronts.items():
            pair = frozenset(front.between)
            if pair in seen:
                errors.append(f"fronts.{name}.between: the same line as fronts.{seen[pair]}")
            seen[pair] = name
        if errors:
            raise ValueError("; ".join(errors))
        return self

    def lines(self) -> set[frozenset]:
        """Every pair of belligerents where at least one opposes the other."""
        out = set()
        for key, actor in self.actors.items():
            if "belligerent" in actor.roles:
                for ref in actor.opposes:
                    out.add(frozenset((key, ref)))
        return out

    def front_list(self) -> list[tuple[str, tuple[str, str], tuple[str, ...]]]:
        """(name, (a, b), linked names) for every line of contact: declared fronts first, then the rest."""
        fronts = [(n, tuple(f.between), tuple(f.linked)) for n, f in self.fronts.items()]
        covered = {frozenset(f.between) for f in self.fronts.values()}
        order = list(self.actors)
        for key in order:
            actor = self.actors[key]
            if "belligerent" not in actor.roles:
                continue
            for ref in actor.opposes:
                pair = frozenset((key, ref))
                if pair in covered or ref not in self.actors:
                    continue
                covered.add(pair)
                a, b = sorted((key, ref), key=order.index)
                fronts.append((f"{a}-{b}", (a, b), ()))
        return fronts

    @property
    def dt_months(self) -> float:
        """The regular step, in months (the first ``fine_start_days`` are simulated day by day)."""
        return self.step_days / DAYS_PER_MONTH

    def step_ends(self, horizon_months: float, extra_days: float = 0.0):
        """Months at the end of each step, covering the horizon plus ``extra_days``."""
        import numpy as np
        needed = horizon_months * DAYS_PER_MONTH + extra_days
        fine = min(self.fine_start_days, math.ceil(needed - 1e-9))
        rest = max(0, math.ceil((needed - fine) / self.step_days - 1e-9))
        days = np.concatenate([np.arange(1, fine + 1, dtype=float), fine + self.step_days * np.arange(1, rest + 1)])
        return days / DAYS_PER_MONTH

    def event_month(self, event: Event) -> float | Distribution:
        if event.month is not None:
            return event.month
        return (event.at - self.start).days / DAYS_PER_MONTH


def _clients_or_protected(actor: ActorBase) -> set[str]:
    out = set()
    if "guarantor" in actor.roles:
        out |= set(actor.protects)
    if "patron" in actor.roles:
        out |= set(actor.backs)
    return out
