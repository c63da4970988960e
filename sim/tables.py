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


def parameter_table(role: str | None = None) -> str:
    from sim.params import field_info
    from sim.schema import ROLE_CLASSES, CrossTheatreTension, Dynamics, Economy, OtherFronts

    groups = {**{r: [(f"actors.<name>", c)] for r, c in ROLE_CLASSES.items()},
              "processes": [("processes.cross_theatre_tension", CrossTheatreTension),
                            ("processes.economy", Economy), ("processes.other_fronts", OtherFronts)],
              "dynamics": [("dynamics", Dynamics)]}
    out = []
    for group, tables in groups.items():
        if role and group != role:
            continue
        for prefix, cls in tables:
            out.append(f"[{prefix}]" + (f"  role = \"{group}\"" if group in ROLE_CLASSES else ""))
            for name, f in cls.model_fields.items():
                if not (f.json_schema_extra or {}).get("unit"):
                    continue
                info = field_info(cls, name)
                default = "required" if f.is_required() else f"default {f.default:g}"
                out.append(f"  {name}: {info['minimum']:g} to {info['maximum']:g}, {info['unit']}; {default}")
                out.append(f"      {info['doc']}")
                out.append(f"      source: {info['source']}")
            out.append("")
    return "\n".join(out)
