"""The yardstick for ``ceasefire bench``: the model's dynamics hand-vectorised in plain numpy.

It repeats, deliberately, what ``sim.model`` and ``sim.actors`` do, without Mesa, agents or method
calls, for the two-sided configuration of the Idlib scenarios: one guarantor protecting one
belligerent, one patron backing the other (and weighing that guarantor), pretext groups hosted by the
protected side, supporters of the backed side. It draws the same named streams in the same order,
so on such a scenario it gives exactly the engine's outcomes: the benchmark compares the speed of
two implementations of one model, and a test checks that they agree.
"""

from __future__ import annotations

import math

import numpy as np

from sim.incidents import poisson_from_uniform
from sim.rng import BlockStreams, blocks_for
from sim.schema import Scenario


def _roles(scenario: Scenario):
    by = {"guarantor": [], "patron": [], "belligerent": [], "pretext": [], "supporter": []}
    for key, a in scenario.actors.items():
        by[a.role].append((key, a))
    return by


def kernel_supports(scenario: Scenario) -> bool:
    """True for the two-sided configuration the kernel is written for."""
    by = _roles(scenario)
    if len(by["guarantor"]) != 1 or len(by["patron"]) != 1 or len(by["belligerent"]) != 2:
        return False
    (gk, g), (_, p) = by["guarantor"][0], by["patron"][0]
    (bk, b), (ok, o) = by["belligerent"]
    if g.protects != [ok] or p.backs != [bk] or p.guarantor != gk:
        return False
    if b.opposes != [ok] or o.opposes != [bk] or not b.needs_air_cover or o.needs_air_cover:
        return False
    if any(x.hosted_by != ok for _, x in by["pretext"]) or any(s.supports != bk for _, s in by["supporter"]):
        return False
    proc = scenario.processes
    if ok in proc.economy.affects or ok in proc.other_fronts.affects:
        return False
    return True


def run_kernel(scenario: Scenario, *, seed: int, runs: int, horizon_months: float | None = None):
    """Times to collapse (horizon where censored), collapsed flags and initiator codes, in blocks of
    at most 10 seeding blocks per batch, like the engine's tasks."""
    out_m, out_c, out_i = [], [], []
    blocks = blocks_for(runs)
    for i in range(0, len(blocks), 10):
        m, c, ini = _kernel_batch(scenario, seed, blocks[i:i + 10], horizon_months)
        out_m.append(m)
        out_c.append(c)
        out_i.append(ini)
    return np.concatenate(out_m), np.concatenate(out_c), np.concatenate(out_i)


def _kernel_batch(scenario, seed, blocks, horizon_months):
    by = _roles(scenario)
    (gk, _), (pk, _) = by["guarantor"][0], by["patron"][0]
    (bk, _), (ok, _) = by["belligerent"]
    pretexts = by["pretext"]
    supporters = by["supporter"]
    st = BlockStreams(seed, blocks)
    R = st.size
    dt = scenario.dt_months
    horizon = float(horizon_months if horizon_months is not None else scenario.horizon_months)
    d = scenario.dynamics
    pr = scenario.processes
    full = lambda v: np.full(R, float(v))  # noqa: E731

    # parameters and state, by key path so that events can change them
    P = {}
    for key, spec in scenario.actors.items():
        for name, value in spec.model_dump().items():
            if isinstance(value, float):
                P[f"actors.{key}.{name}"] = full(value)
    T, E, F = pr.cross_theatre_tension, pr.economy, pr.other_fronts
    proc = {f"processes.cross_theatre_tension.{k}": v for k, v in T.model_dump().items() if isinstance(v, float)}
    proc |= {f"processes.economy.{k}": v for k, v in E.model_dump().items() if isinstance(v, float)}
    proc |= {f"processes.other_fronts.{k}": v for k, v in F.model_dump().items() if isinstance(v, float)}
    dyn = {f"dynamics.{k}": v for k, v in d.model_dump().items()}
    events = sorted(((scenario.event_month(e), n, e) for n, e in scenario.events.items()), key=lambda x: (x[0], x[1]))

    tension = full(proc["processes.cross_theatre_tension.initial"])
    stress = full(proc["processes.economy.initial_stress"])
    draw = full(proc["processes.other_fronts.initial"])
    since_crisis = np.full(R, np.inf)
    b_follows, b_drawn = bk in E.affects, bk in F.affects
    recent_b, recent_o = np.zeros(R), np.zeros(R)
    incoming_b, incoming_o = np.zeros(R), np.zeros(R)
    salience = {k: np.zeros(R) for k, _ in pretexts}
    steps_b, steps_o = np.zeros(R, np.int32), np.zeros(R, np.int32)
    holding = np.ones(R, bool)
    months = np.full(R, np.nan)
    initiator = np.full(R, -1, np.int16)
    sustain = max(int(math.ceil(dyn["dynamics.sustain_days"] / scenario.step_days)), 1)
    n_steps = math.ceil(horizon / dt - 1e-9) + sustain
    sq_dt = np.sqrt(dt)
    A = lambda name: P[f"actors.{name}"]  # noqa: E731

    for k in range(n_steps):
        while events and events[0][0] < (k + 1) * dt:
            _, _, ev = events.pop(0)
            for path, value in ev.set.items():
                if path in P:
                    P[path] = full(value)
                elif path in proc:
                    proc[path] = value
                else:
                    dyn[path] = value
        dd = lambda n: dyn[f"dynamics.{n}"]  # noqa: E731
        # exogenous processes
        tp = lambda n: proc[f"processes.cross_theatre_tension.{n}"]  # noqa: E731
        crisis = st.uniform("tension_crises") < -np.expm1(-tp("crisis_rate") / 12.0 * dt)
        tension = tension + tp("reversion") * (tp("mean") - tension) * dt + tp("volatility") * sq_dt * st.normal(
            "tension") + tp("crisis_size") * crisis
        np.clip(tension, 0.0, 1.0, out=tension)
        since_crisis = np.where(crisis, 0.0, since_crisis + dt)
        ep = lambda n: proc[f"processes.economy.{n}"]  # noqa: E731
        stress = stress + ep("reversion") * (ep("sanctions") - stress) * dt + ep("volatility") * sq_dt * st.normal("economy")
        np.clip(stress, 0.0, 1.0, out=stress)
        fp = lambda n: proc[f"processes.other_fronts.{n}"]  # noqa: E731
        flare = st.uniform("front_flares") < -np.expm1(-fp("flare_rate") / 12.0 * dt)
        draw = draw + fp("reversion") * (fp("mean") - draw) * dt + fp("volatility") * sq_dt * st.normal(
            "other_fronts") + fp("flare_size") * flare
        np.clip(draw, 0.0, 1.0, out=draw)
        # belligerents' state
        fade = np.exp(-dt / dd("memory_months"))
        for key, follows in ((bk, b_follows), (ok, False)):
            if follows:
                ex = A(f"{key}.exhaustion")
                ex += ep("exhaustion_rate") * dt * (stress - ex)
                np.clip(ex, 0.0, 1.0, out=ex)
            P[f"actors.{key}.readiness"] = np.clip(A(f"{key}.readiness") + A(f"{key}.readiness_growth") * dt / 12.0,
                                                   0.0, 1.0)
        recent_b = recent_b * fade + incoming_b
        incoming_b = np.zeros(R)
        recent_o = recent_o * fade + incoming_o
        incoming_o = np.zeros(R)
        r_b = A(f"{bk}.readiness") * (1.0 - dd("exhaustion_effect") * A(f"{bk}.exhaustion")) \
            * (1.0 - (draw if b_drawn else 0.0))
        r_o = A(f"{ok}.readiness") * (1.0 - dd("exhaustion_effect") * A(f"{ok}.exhaustion")) * (1.0 - 0.0)
        griev_b = -np.expm1(-recent_b / dd("grievance_scale"))
        griev_o = -np.expm1(-recent_o / dd("grievance_scale"))
        # spoiler attacks
        for key, _ in pretexts:
            rate = A(f"{key}.patrol_attack_rate") * (1.0 - A(f"{key}.transformation"))
            attacked = st.uniform(f"spoiler_attacks/{key}") < -np.expm1(-rate * dt)
            salience[key] = np.minimum(1.0, salience[key] * np.exp(-dt / dd("memory_months"))
                                       + dd("attack_salience") * attacked)
        # violations
        for key, r_eff, griev in ((bk, r_b, griev_b), (ok, r_o, griev_o)):
            rate = dd("violation_rate") * A(f"{key}.violation_propensity") * (0.5 + 0.5 * r_eff) * (1.0 + griev)
            count = poisson_from_uniform(st.uniform(f"violations/{key}"), rate * dt)
            if key == bk:
                incoming_o += count / 1
            else:
                incoming_b += count / 1
        # powers
        own_b = A(f"{bk}.strength")
        for sk, _ in supporters:
            own_b = own_b + A(f"{sk}.strength") * A(f"{sk}.commitment")
        own_o = A(f"{ok}.strength")
        air = dd("air_weight") * A(f"{pk}.air_power") * (1.0 - A(f"{pk}.distraction")) * A(f"{pk}.commitment")
        def_b = own_b * (0.5 + 0.5 * r_b) + air
        def_o = own_o * (0.5 + 0.5 * r_o)
        shield_o = 0.0 + A(f"{gk}.deterrence") * (0.5 + 0.5 * A(f"{gk}.resolve"))
        shield_b = 0.0
        att_b = own_b * r_b

        def adv_b(covered):
            attack = att_b + np.where(covered, air, 0.0)
            return attack / (attack + def_o + shield_o + 1e-9)
        adv_o = (own_o * r_o) / (own_o * r_o + def_b + shield_b + 1e-9)
        # air cover
        pretext = 0.0
        for key, _ in pretexts:
            pretext = pretext + (A(f"{key}.pretext_strength") * (1.0 - A(f"{key}.transformation")) + salience[key])
        inc = (dd("weight_gain") * A(f"{bk}.ambition") * adv_b(True) + dd("weight_pretext") * pretext
               + dd("weight_tension") * tension - dd("weight_deterrence") * shield_o
               - dd("weight_interest") * A(f"{pk}.interest_in_guarantor")
               - dd("weight_agreement") * (A(f"{pk}.agreement_commitment")
                                           * np.exp(-dd("agreement_erosion") * (k * dt) / 12.0))
               - dd("weight_distraction") * A(f"{pk}.distraction"))
        z = (inc - dd("cover_threshold")) / dd("cover_scale")
        p_cover = A(f"{pk}.commitment") / (1.0 + np.exp(-np.clip(z, -50, 50)))
        covered = st.uniform(f"air_cover/{bk}>{ok}/{pk}") < p_cover
        # air strikes
        level = A(f"{pk}.air_power") * (1.0 - A(f"{pk}.distraction")) * A(f"{pk}.commitment") * (0.25 + 0.75 * p_cover) * 1.0
        strikes = poisson_from_uniform(st.uniform(f"air_strikes/{bk}>{ok}/{pk}"), dd("air_strike_rate") * level * dt)
        incoming_o += strikes
        intensity = np.zeros(R) + level
        # offensives
        a_b = adv_b(covered)
        hazard = dd("offensive_rate") * A(f"{bk}.ambition") * r_b * a_b ** 2 * covered.astype(float) \
            * (1.0 + dd("grievance_weight") * griev_b)
        launch = st.uniform(f"offensive>{ok}/{bk}") < -np.expm1(-hazard * dt)
        steps_b += (steps_b > 0) | launch
        permission = 1.0 * (1.0 - A(f"{gk}.restraint"))
        a_o = adv_o
        hazard = dd("offensive_rate") * A(f"{ok}.ambition") * r_o * a_o ** 2 * permission \
            * (1.0 + dd("grievance_weight") * griev_o)
        launch = st.uniform(f"offensive>{bk}/{ok}") < -np.expm1(-hazard * dt)
        steps_o += (steps_o > 0) | launch
        # guarantor responds
        gd = A(f"{gk}.deterrence")
        threat = np.minimum(1.0, (np.zeros(R) + incoming_o) / (dd("threat_scale") * dt))
        P[f"actors.{gk}.deterrence"] = gd = np.minimum(
            1.0, gd + A(f"{gk}.reinforcement") * A(f"{gk}.resolve") * threat * (1.0 - gd) * dt)
        P[f"actors.{gk}.exposure"] = np.maximum(0.0, A(f"{gk}.exposure") * (1.0 - A(f"{gk}.withdrawal") * tension * dt))
        # retaliation reads the reinforced deterrence through the attacker's advantage
        shield_o = 0.0 + gd * (0.5 + 0.5 * A(f"{gk}.resolve"))
        a_b = adv_b(covered)
        rate = dd("halt_rate") * (gd * A(f"{gk}.resolve")) * (1.0 - a_b)
        halted = (steps_b > 0) & (st.uniform(f"retaliation/{bk}>{ok}/{gk}") < -np.expm1(-rate * dt))
        steps_b[halted] = 0
        # patron defends its client
        rate = dd("halt_rate") * (A(f"{pk}.air_power") * (1.0 - A(f"{pk}.distraction")) * A(f"{pk}.commitment")) \
            * (1.0 - adv_o)
        halted = (steps_o > 0) & (st.uniform(f"air_defence/{ok}>{bk}/{pk}") < -np.expm1(-rate * dt))
        steps_o[halted] = 0
        # clash
        rate = dd("clash_rate") * tension * A(f"{gk}.exposure") * A(f"{gk}.resolve") \
            * (1.0 - A(f"{pk}.interest_in_guarantor")) * intensity
        clash = st.uniform(f"clash/{pk}/{gk}") < -np.expm1(-rate * dt)
        # collapse
        new = np.zeros(R, bool)
        for code, steps in ((0, steps_b), (1, steps_o)):
            hit = holding & ~new & (steps >= sustain)
            t = (k - steps + 2) * dt
            hit &= t <= horizon + 1e-9
            months[hit] = t[hit]
            initiator[hit] = code
            holding &= ~hit
            new |= hit
        hit = holding & ~new & clash & ((k + 1) * dt <= horizon + 1e-9)
        months[hit] = (k + 1) * dt
        initiator[hit] = 2
        holding &= ~hit
        if not holding.any():
            break
    collapsed = ~np.isnan(months)
    return np.where(collapsed, months, horizon), collapsed, initiator
