"""Plain-text tables for the terminal (formatting only; the CLI prints them)."""

from __future__ import annotations


def pct(x: float | None, digits: int = 1) -> str:
    return "n/a" if x is None else f"{100 * x:.{digits}f}%"


def months_text(x: float | None, horizon: float) -> str:
    return f"> {horizon:g} months" if x is None else f"{x:.1f} months"


def shares_text(shares: dict[str, float]) -> str:
    if not shares:
        return "no collapses"
    return ", ".join(f"{k} {pct(v, 0)}" for k, v in sorted(shares.items(), key=lambda kv: -kv[1]))


def run_table(result) -> str:
    s = result.summary()
    sim = result.simulation
    lines = [
        f"{s['scenario']}: {s['runs']:,} replications, seed {s['seed']}, horizon {s['horizon_months']:g} months "
        f"({sim.wall_seconds:.1f} s on {sim.jobs} process{'es' if sim.jobs > 1 else ''})",
        "",
        f"  {'P(collapse by)':<22}{'estimate':>9}   95% CI",
    ]
    for month, est in s["p_collapse"].items():
        lines.append(f"  {month + ' months':<22}{pct(est['estimate']):>9}   [{pct(est['ci_low'])}, {pct(est['ci_high'])}]")
    lines += [
        "",
        f"  Median time to collapse: {months_text(s['median_months_to_collapse'], s['horizon_months'])}",
        f"  Mean months holding (to the horizon): {s['rmst_months']['estimate']:.1f} "
        f"[{s['rmst_months']['ci_low']:.1f}, {s['rmst_months']['ci_high']:.1f}]",
        f"  Who collapses it (share of {s['collapsed']:,} collapses): {shares_text(s['initiator_share'])}",
        f"  Proximate trigger: {shares_text(s['trigger_share'])}",
    ]
    return "\n".join(lines)


def history_table(scenario, replication: int, seed: int, rows: list[dict], outcome: dict) -> str:
    ladder = {0: "hold", 1: "violations", 2: "limited", 3: "offensive"}
    keys = [k for k in rows[0] if k not in ("month", "holding") and not k.startswith("ladder.")]
    ladders = [k for k in rows[0] if k.startswith("ladder.")]
    head = ["month", "holding", *keys, *ladders]
    out = [f"{scenario.name}: replication {replication} (seed {seed})"]
    if outcome["collapsed"]:
        out.append(f"collapsed at month {outcome['months_to_collapse']:.2f}: initiator {outcome['initiator']}, "
                   f"trigger {outcome['trigger']}")
    else:
        out.append(f"held to the horizon ({outcome['months_to_collapse']:g} months)")
    out.append("  ".join(head))
    for row in rows:
        cells = [str(row["month"]), "yes" if row["holding"] else "no"]
        for k in keys:
            v = row[k]
            cells.append(str(v) if isinstance(v, int) else f"{v:.3f}")
        cells += [ladder[row[k]] for k in ladders]
        out.append("  ".join(cells))
    return "\n".join(out)


def parameter_records(role: str | None = None) -> list[dict]:
    """Every scenario parameter (optionally of one role or table group): its table, name, and for a numeric
    one its range, unit, default (None if required), meaning, source claim and calibration prior; for a link
    or categorical field what it accepts and its meaning."""
    from sim.params import field_info
    from sim.schema import ROLE_CLASSES, Agreement, CrossTheatreTension, Dynamics, Economy, OtherFronts

    groups = {**{r: [("actors.<name>", c)] for r, c in ROLE_CLASSES.items()},
              "agreement": [("agreement", Agreement)],
              "processes": [("processes.cross_theatre_tension", CrossTheatreTension),
                            ("processes.economy", Economy), ("processes.other_fronts", OtherFronts)],
              "dynamics": [("dynamics", Dynamics)]}
    out = []
    for group, tables in groups.items():
        if role and group != role:
            continue
        for prefix, cls in tables:
            for name, f in cls.model_fields.items():
                if name in ("role", "label"):
                    continue
                base = {"group": group, "table": prefix, "name": name}
                if not (f.json_schema_extra or {}).get("unit"):
                    out.append({**base, "accepts": _kind(f),
                                "default": None if f.is_required() else f.get_default(call_default_factory=True),
                                "doc": " ".join((f.description or "").split())})
                    continue
                info = field_info(cls, name)
                out.append({**base, "minimum": info["minimum"], "maximum": info["maximum"], "unit": info["unit"],
                            "default": None if f.is_required() else f.default, "doc": info["doc"],
                            "source": info["source"], "prior": info["prior"]})
    return out


def parameter_table(role: str | None = None) -> str:
    from sim.schema import ROLE_CLASSES

    out = []
    current = None
    for rec in parameter_records(role):
        if (rec["group"], rec["table"]) != current:
            if current is not None:
                out.append("")
            current = (rec["group"], rec["table"])
            out.append(f"[{rec['table']}]" + (f"  role = \"{rec['group']}\"" if rec["group"] in ROLE_CLASSES else ""))
        if "accepts" in rec:
            default = "required" if rec["default"] is None else f"default {rec['default']!r}"
            out.append(f"  {rec['name']}: {rec['accepts']}; {default}")
            if rec["doc"]:
                out.append(f"      {rec['doc']}")
            continue
        default = "required" if rec["default"] is None else f"default {rec['default']:g}"
        out.append(f"  {rec['name']}: {rec['minimum']:g} to {rec['maximum']:g}, {rec['unit']}; {default}")
        out.append(f"      {rec['doc']}")
        out.append(f"      source: {rec['source']}")
        if rec["prior"]:
            scale, low, high = rec["prior"]
            out.append(f"      calibration prior: uniform on a {scale} scale, {low:g} to {high:g}")
    if current is not None:
        out.append("")
    return "\n".join(out)


def _kind(field) -> str:
    """What a non-numeric field accepts, in words."""
    import typing
    ann = field.annotation
    if typing.get_origin(ann) is typing.Literal:
        return "one of " + ", ".join(map(str, typing.get_args(ann)))
    if ann is bool:
        return "true or false"
    if ann is int:
        return "a whole number"
    return "a list of actor keys" if typing.get_origin(ann) is list else "text"


def _signed_points(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:+.1f} points"


def comparison_text(c) -> str:
    """Figures first, then one plain sentence per difference."""
    d = c.as_dict()
    base, other = d["scenarios"]["base"]["name"], d["scenarios"]["other"]["name"]
    lines = [f"{other} compared with {base}: {d['runs']:,} paired replications, seed {d['seed']}, "
             f"horizon {d['horizon_months']:g} months ({d['stopping']['reason']}).", ""]
    head_a, head_b = _column_head(base), _column_head(other)
    w = max(22, len(head_a), len(head_b)) + 2      # whole names where they fit: scenario names share long prefixes
    lines.append(f"  {'P(collapse by)':<16}{head_a:>{w}}{head_b:>{w}}   difference [95% CI]")
    for month, diffd in d["differences"]["p_collapse"].items():
        pa, pb = d["p_collapse"]["base"].get(month), d["p_collapse"]["other"].get(month)
        lines.append(f"  {month + ' months':<16}{pct(pa['estimate']):>{w}}{pct(pb['estimate']):>{w}}   "
                     f"{_signed_points(diffd['estimate'])} [{_signed_points(diffd['ci_low'])}, "
                     f"{_signed_points(diffd['ci_high'])}]")
    r = d["differences"]["rmst"]
    m = d["differences"]["median"]
    vr = d["variance_reduction"]
    lines += [
        f"  Mean months holding (RMST) difference: {r['estimate']:+.2f} [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]",
        f"  Median time to collapse: {months_text(m['base_median'], d['horizon_months'])} vs "
        f"{months_text(m['other_median'], d['horizon_months'])}",
        f"  Initiators: {shares_text(d['initiator_share']['base'])} vs {shares_text(d['initiator_share']['other'])}",
        f"  Paired tests: which collapses first, p = {d['tests']['time_to_collapse']['p_value']:.3g} "
        f"({d['tests']['time_to_collapse']['other_first']} pairs where {other} collapses first, "
        f"{d['tests']['time_to_collapse']['base_first']} where {base} does)",
        _pairing_sentence(vr),
        "",
    ]
    for entry in d.get("attribution", []):
        lines.append(f"  Attribution: {entry['setting']} contributes {_signed_points(entry['contribution'])} "
                     f"[{_signed_points(entry['ci_low'])}, {_signed_points(entry['ci_high'])}] ({entry['effect']})")
    if d.get("attribution"):
        lines.append("")
    for month, diffd in d["differences"]["p_collapse"].items():
        lines.append("  " + _difference_sentence(base, other, f"within {month} months", diffd,
                                                 d["p_collapse"]["base"][month], d["p_collapse"]["other"][month]))
    lines.append("  " + _rmst_sentence(r, d["horizon_months"], base, other))
    if d["parameter_diff"]:
        lines += ["", f"  What differs ({len(d['parameter_diff'])} parameters after inheritance):"]
        for row in d["parameter_diff"][:25]:
            lines.append(f"    {row['key']}: {short(row['base'])} -> {short(row['other'])}")
        if len(d["parameter_diff"]) > 25:
            lines.append(f"    ... and {len(d['parameter_diff']) - 25} more (see comparison.json)")
    return "\n".join(lines)


def _pairing_sentence(vr: dict) -> str:
    ratio = vr["width_ratio"]
    if vr.get("identical_outcomes"):
        return "  Pairing: the two scenarios gave identical outcomes in every replication"
    if ratio is None:
        return "  Pairing: no outcome varies across replications, so there is no interval to narrow"
    return (f"  Pairing on common random numbers made the CI of {vr['outcome']} {1 / ratio:.1f} times narrower "
            f"than independent runs would")


def _difference_sentence(base, other, when, diffd, pa, pb) -> str:
    est, low, high = diffd["estimate"], diffd["ci_low"], diffd["ci_high"]
    head = (f"Under {other}, P(collapse {when}) is {pct(pb['estimate'])} [{pct(pb['ci_low'])}, {pct(pb['ci_high'])}]; "
            f"under {base}, {pct(pa['estimate'])} [{pct(pa['ci_low'])}, {pct(pa['ci_high'])}]: ")
    if diffd.get("discordant_pairs") == 0:
        return head + "no difference in any replication."
    if low is not None and low > 0:
        verdict = "higher, beyond the noise"
    elif high is not None and high < 0:
        verdict = "lower, beyond the noise"
    else:
        verdict = "no difference distinguishable from the noise"
    return head + f"{_signed_points(est)} [{_signed_points(low)}, {_signed_points(high)}], {verdict}."


def _rmst_sentence(r, horizon, base: str, other: str) -> str:
    if r["ci_low"] is not None and r["ci_low"] > 0:
        verdict = "lasts longer"
    elif r["ci_high"] is not None and r["ci_high"] < 0:
        verdict = "collapses sooner"
    else:
        verdict = "lasts about as long"
    return (f"Over {horizon:g} months, the ceasefire {verdict} on average under {other} than under {base} "
            f"({r['estimate']:+.2f} months holding [{r['ci_low']:+.2f}, {r['ci_high']:+.2f}]).")


def _column_head(name: str, limit: int = 40) -> str:
    return name if len(name) <= limit else name[: limit - 1] + "\u2026"


def short(value, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def diff_table(rows, name_a: str, name_b: str) -> str:
    if not rows:
        return f"{name_a} and {name_b} have identical parameters after inheritance."
    width = max(len(k) for k, _, _ in rows)
    out = [f"{'parameter':<{width}}  {name_a}  ->  {name_b}"]
    for key, a, b in rows:
        out.append(f"{key:<{width}}  {short(a)}  ->  {short(b)}")
    return "\n".join(out)


def sensitivity_text(loaded, analysis: dict) -> str:
    e = loaded.experiment
    outcome = e.analysed_outcome
    res = analysis["outcomes"][outcome]
    names = loaded.factor_names
    lines = [f"{e.name}: {analysis['points']:,} points x {e.replications} replications, sampler {e.sampler}, "
             f"horizon {e.horizon_months:g} months",
             f"  Question: {e.question}" if e.question else "",
             f"  Failed points: {analysis['failed_points']} (excluded from the analysis)",
             ""]
    if res["method"] is None:
        lines.append(f"  No sensitivity analysis of {outcome}: {res.get('error')}")
        return "\n".join(lines)
    key = {"sobol": "ST", "morris": "mu_star", "src": "SRC"}[res["method"]]
    lines.append(f"  Ranking by {key} of {outcome}:")
    for rank, i in enumerate(res["ranking"], 1):
        f = res["factors"][i]
        cells = []
        for col in (["S1", "ST"] if res["method"] == "sobol" else [key] + (["sigma"] if res["method"] == "morris" else [])):
            v, lo, hi = f.get(col), f.get(f"{col}_ci_low"), f.get(f"{col}_ci_high")
            cell = f"{col} {v:.3f}" if v is not None else f"{col} n/a"
            if lo is not None and hi is not None:
                cell += f" [{lo:.3f}, {hi:.3f}]"
            cells.append(cell)
        lines.append(f"    {rank}. {names[i]:<28} " + "; ".join(cells))
    if res.get("noise_share") is not None:
        if res["method"] == "sobol" and res.get("noise_corrected", True):
            share, treatment = "", "corrected for in the indices"
        elif res.get("noise_corrected") is False:   # runs spread over posterior draws: the binomial noise overstates
            share, treatment = "at most ", "not removed: an upper bound, the runs being spread over the posterior"
        else:
            share, treatment = "", "not removed from the indices"
        lines.append(f"  Replication noise: {share}{100 * res['noise_share']:.1f}% of the variance of {outcome} across "
                     f"points ({treatment})")
    return "\n".join(line for line in lines if line is not None)


def calibration_text(report: dict) -> str:
    d = report["diagnostics"]
    r = report.get("reproducibility")
    lines = [f"Calibration '{report['name']}': {len(report['cases'])} cases, {d['particles']} particles, "
             f"{d['evaluations']} likelihood evaluations",
             f"  effective sample size: {d['effective_sample_size']:.0f}"
             + (f"; reproducibility (seeds {r['seeds'][0]} and {r['seeds'][1]}): largest shift of a median "
                f"{r['max_shift']:.2f} of its 90% interval" if r else ""), "",
             f"  {'parameter':<40}{'median':>10}   90% interval"]
    for name, p in report["parameters"].items():
        lines.append(f"  {name:<40}{p['median']:>10.4g}   [{p['q05']:.4g}, {p['q95']:.4g}]")
    lines += ["", f"  {'case':<34}{'observed':>12}{'P(by 1)':>9}{'P(by 12)':>9}{'median':>9}  percentile"]
    for c in report["fit"]:
        p = c["predicted"]["p_collapse"]
        med = c["predicted"]["median"]
        obs = c["observed"]
        seen = f"{obs['months']:.1f}" if obs["collapsed"] else f">{obs['months']:.0f}"
        lines.append(f"  {c['name']:<34}{seen:>12}{pct(p['1'], 0):>9}{pct(p['12'], 0):>9}"
                     f"{(f'{med:.1f}' if med is not None else '>hzn'):>9}  {c['observed_percentile']:.2f}")
    return "\n".join(lines)


def backtest_text(backtest: dict) -> str:
    lines = ["Out-of-sample forecasts of the case base (leave-one-out by importance sampling)", "",
             f"  {'case':<34}{'observed':>10}{'P(by 1)':>9}{'P(by 12)':>9}{'median':>9}{'pctile':>8}{'k-hat':>7}"]
    for c in backtest["cases"]:
        p = c["predicted"]["p_collapse"]
        med = c["predicted"]["median"]
        obs = c["observed"]
        seen = f"{obs['months']:.1f}" if obs["collapsed"] else f">{obs['months']:.0f}"
        lines.append(f"  {c['name']:<34}{seen:>10}{pct(p['1'], 0):>9}{pct(p['12'], 0):>9}"
                     f"{(f'{med:.1f}' if med is not None else '>hzn'):>9}{c['observed_percentile']:>8.2f}"
                     f"{c['pareto_k']:>7.2f}")
    for title, scores in (("leave one case out", backtest["scores"]),
                          ("leave one conflict out", backtest["leave_one_conflict_out"]["scores"])):
        lines += ["", f"  {title}:",
                  f"  {'forecast':<14}{'Brier 3':>9}{'Brier 12':>9}{'log':>8}{'CRPS':>8}{'cover 50':>10}{'cover 90':>10}"]
        for name, s in scores.items():
            if s is None:
                continue
            b = s["brier"]
            lines.append(f"  {name:<14}{_num(b.get('3'), 3):>9}{_num(b.get('12'), 3):>9}{_num(s['log'], 3):>8}"
                         f"{s['crps']:>8.2f}{s['coverage']['50']:>10.2f}{s['coverage']['90']:>10.2f}")
    lines.append("  (lower is better for Brier, log and CRPS; coverage should be near 0.5 and 0.9)")
    exact = backtest.get("exact_refits", {})
    for kind, title in (("loo", "leave one case out"), ("loco", "leave one conflict out")):
        if kind not in exact:
            continue
        part = exact[kind]
        lines += ["", f"  {title}, refitted without the held-out cases (in place of importance sampling):",
                  f"  {'case':<34}{'log, IS':>9}{'log, refit':>12}{'median, IS':>12}{'median, refit':>15}"]
        for r in part["cases"]:
            before = part["importance_sampled"][r["name"]]
            lines.append(f"  {r['name']:<34}{_num(before['log'], 3):>9}{_num(r['scores']['model']['log'], 3):>12}"
                         f"{_num(before['median'], 1):>12}{_num(r['predicted']['median'], 1):>15}")
        lines.append(f"  {'forecast':<14}{'log':>8}{'CRPS':>8}{'cover 50':>10}{'cover 90':>10}  (all cases, refitted "
                     f"forecasts in place)")
        for name, s in part["scores"].items():
            if s is not None:
                lines.append(f"  {name:<14}{_num(s['log'], 3):>8}{s['crps']:>8.2f}{s['coverage']['50']:>10.2f}"
                             f"{s['coverage']['90']:>10.2f}")
    return "\n".join(lines)


def _num(x, digits: int) -> str:
    return "-" if x is None else f"{x:.{digits}f}"
