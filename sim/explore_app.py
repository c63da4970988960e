"""The page of ``ceasefire explore``: Solara components over :mod:`sim.explore` (a thin layer, as in
Mesa's SolaraViz: parameters declared once, turned into sliders).

Served by ``ceasefire explore`` (settings passed in the ``CEASEFIRE_EXPLORE`` environment variable);
``solara run sim.explore_app`` also works and explores the bundled Moscow scenario.
"""

from __future__ import annotations

import html
import io
import os

import solara
from solara.alias import rw

from sim import explore
from sim.plots import _pyplot, history_figure, report_survival_figure, shares_figure

ORIGINAL = "(this scenario before the sliders moved)"


def _settings() -> explore.Settings:
    text = os.environ.get(explore.ENV)
    if text:
        return explore.Settings.from_env(text)
    return explore.settings_from_args("idlib_2020_moscow")


def _pct(x) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def _css(key: str) -> str:
    return "param-" + "".join(c if c.isalnum() else "_" for c in key)


@solara.component
def Headline(current: dict, other: dict, other_label: str):
    h = current["headline"]
    month = current["headline_month"]
    o = other["headline"]
    text = (f"<b>P(collapse by {month} months): {_pct(h['estimate'])}</b> [95% CI {_pct(h['ci_low'])} to "
            f"{_pct(h['ci_high'])}] &nbsp; against {html.escape(other_label)}: {_pct(o['estimate'])} "
            f"({100 * (h['estimate'] - o['estimate']):+.1f} points, same random numbers)"
            f"<br>median months to collapse: "
            f"{'beyond the horizon' if current['median'] is None else format(current['median'], '.1f')}; "
            f"{current['runs']:,} runs, seed {current['seed']}")
    solara.HTML(tag="div", unsafe_innerHTML=text, classes=["headline"],
                attributes={"id": "headline", "data-p-collapse": f"{h['estimate']:.6f}",
                            "data-month": month, "data-compare-p-collapse": f"{o['estimate']:.6f}"})


@solara.component
def Figure(make, dependencies):
    """A figure drawn by ``make()`` when ``dependencies`` change, shown as PNG (the figure is closed)."""
    def render():
        fig = make()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=90)
        _pyplot().close(fig)
        return buf.getvalue()
    png = solara.use_memo(render, dependencies=dependencies)
    rw.Image(value=png, format="png")


@solara.component
def Page():
    settings = solara.use_memo(_settings, dependencies=[])
    base = explore.variant(settings.scenario_path, ())
    sliders = solara.use_memo(lambda: [explore.slider(base, k) for k in settings.keys], dependencies=[])
    initial = {s["key"]: s["value"] for s in sliders}
    values, set_values = solara.use_state(initial)
    compare_label, set_compare_label = solara.use_state(
        ORIGINAL if settings.compare_path is None else os.path.basename(settings.compare_path))
    replication, set_replication = solara.use_state(0)
    save_name, set_save_name = solara.use_state(f"{settings.scenario_name}_explored")
    message, set_message = solara.use_state(None)

    changes = tuple(sorted(explore.changed(initial, values).items()))
    current = explore.outcome(settings.scenario_path, changes, settings.runs, settings.seed)
    if compare_label == ORIGINAL:
        other = explore.outcome(settings.scenario_path, (), settings.runs, settings.seed)
    else:
        path = settings.choices.get(compare_label, settings.compare_path)
        other = explore.outcome(path, (), settings.runs, settings.seed)
    other_label = f"{other['name']} (unchanged)" if compare_label == ORIGINAL else other["name"]

    def save():
        try:
            path = explore.save_scenario(settings, save_name, dict(changes))
        except Exception as exc:  # noqa: BLE001 - shown on the page, which must stay up
            set_message(("error", f"not saved: {exc}"))
            return
        set_message(("ok", f"saved {path}: 'ceasefire validate {path}' accepts it; "
                           f"'ceasefire run {path}' runs it"))

    solara.Title(f"ceasefire explore: {settings.scenario_name}")
    with solara.Sidebar():
        solara.HTML(tag="p", unsafe_innerHTML=(
            f"<b>{html.escape(settings.scenario_name)}</b>: move a slider and the curves are recomputed "
            f"({settings.runs:,} runs, always seed {settings.seed}: common random numbers, so a change shows "
            f"its effect, not new dice)."))
        for s in sliders:
            with solara.Column(classes=[_css(s["key"]), "param"], gap="0px"):
                solara.SliderFloat(s["key"], value=values[s["key"]], min=s["min"], max=s["max"], step=s["step"],
                                   on_value=lambda v, k=s["key"]: set_values({**values, k: float(v)}),
                                   thumb_label=True)
                solara.Text(f"now {values[s['key']]:.3g} (scenario {s['value']:g}); {s['unit']}",
                            style={"font-size": "0.8em"}, classes=["param-value"])
        solara.Button("Reset", on_click=lambda: set_values(initial), text=True, classes=["reset"])
        solara.Select("Compare with", values=[ORIGINAL, *settings.choices], value=compare_label,
                      on_value=set_compare_label, classes=["compare"])
        solara.InputText("Scenario name to save as", value=save_name, on_value=set_save_name, classes=["save-name"])
        solara.Button("Save as scenario file", on_click=save, classes=["save"])
        if message:
            (solara.Success if message[0] == "ok" else solara.Error)(message[1], classes=["save-message"])
    with solara.Column():
        Headline(current, other, other_label)
        key = (changes, compare_label)
        Figure(lambda: report_survival_figure(
            [(f"{current['name']} (sliders)" if changes else current["name"], current["survival"]),
             (other_label, other["survival"])],
            f"Survival of the ceasefire: the sliders' setting against {other_label}"), [key])
        with solara.Row():
            Figure(lambda: shares_figure([("the sliders' setting", current["initiator_share"]),
                                          (other_label, other["initiator_share"])],
                                         "Who breaks it: initiator of the collapses", "share of the collapses"), [key])
            Figure(lambda: shares_figure([("the sliders' setting", current["trigger_share"]),
                                          (other_label, other["trigger_share"])],
                                         "Why: what triggered the collapses", "share of the collapses"), [key])
        solara.SliderInt("Replication to replay (month by month)", value=replication, min=0,
                         max=max(0, settings.runs - 1), on_value=set_replication)

        def make_history():
            rows, out = explore.history(settings.scenario_path, changes, settings.seed, replication)
            what = (f"collapsed at {out['months_to_collapse']:.1f} months ({out['initiator']}, {out['trigger']})"
                    if out["collapsed"] else "held to the horizon")
            return history_figure(rows, out, f"Replication {replication} of the sliders' setting: {what}")
        Figure(make_history, [changes, replication])
