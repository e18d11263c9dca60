"""The chart of breaks per month per network kind, drawn server-side as plain SVG (no library)."""

from __future__ import annotations

import math
from html import escape
from typing import Any

# As the map draws networks (gis/static/citygis/style.js NETWORK_COLOURS).
KIND_COLOURS = {
    "water": "#1f78b4",
    "heat": "#e31a1c",
    "sewer": "#8c510a",
    "storm": "#35978f",
    "gas": "#e6a100",
    "power": "#9d4edd",
    "telecom": "#33a02c",
    "other": "#555555",
}
WIDTH, HEIGHT = 760, 280
LEFT, RIGHT, TOP, BOTTOM = 44, 12, 34, 46


def _ticks(top: int) -> list[int]:
    """Round y-axis steps up to at least ``top`` (1, 2, 5 × 10ⁿ), at most about 5 of them."""
    if top <= 0:
        return [0, 1]
    raw = top / 5
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * magnitude for m in (1, 2, 5, 10) if m * magnitude >= raw)
    return list(range(0, math.ceil(top / step) * step + 1, step))


def breaks_chart_svg(*, data: dict[str, Any], title: str) -> str:
    """Stacked bars: one per month, one colour per network kind, with axes and a legend.

    ``data`` is what ``selectors.breaks_per_month`` returns. Every bar segment is a ``rect``
    with ``data-month``, ``data-kind`` and ``data-count`` (and a tooltip), so tests and scripts
    can read the chart back.
    """
    months: list[str] = data["months"]
    kinds: list[str] = data["kinds"]
    series: dict[str, list[int]] = data["series"]
    totals = [sum(series[k][i] for k in kinds) for i in range(len(months))]
    ticks = _ticks(max(totals, default=0))
    top = ticks[-1]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(months), 1)
    bar = max(slot * 0.8, 1.0)

    first_january = next((i for i, m in enumerate(months) if m.endswith("-01")), None)

    def y_of(value: float) -> float:
        return TOP + plot_h - value / top * plot_h

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="breaks-chart" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" '
        f'aria-label="{escape(title)}" font-family="system-ui, sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" font-size="13" font-weight="600">{escape(title)}</text>',
    ]
    for tick in ticks:
        y = y_of(tick)
        out.append(
            f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" fill="#555">{tick}</text>'
        )
    for i, month in enumerate(months):
        x = LEFT + i * slot + (slot - bar) / 2
        base = 0
        for kind in kinds:
            count = series[kind][i]
            if not count:
                continue
            y0, y1 = y_of(base), y_of(base + count)
            out.append(
                f'<rect class="bar" x="{x:.1f}" y="{y1:.1f}" width="{bar:.1f}" '
                f'height="{y0 - y1:.1f}" fill="{KIND_COLOURS.get(kind, "#555555")}" '
                f'data-month="{month}" data-kind="{escape(kind)}" data-count="{count}">'
                f"<title>{month} {escape(kind)}: {count}</title></rect>"
            )
            base += count
        # Label January of each year, and the first month unless a January follows closely.
        if (i == 0 and first_january not in range(1, 4)) or month.endswith("-01"):
            label = month if i == 0 or len(months) <= 24 else month[:4]
            out.append(
                f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 14}" '
                f'text-anchor="middle" fill="#555">{label}</text>'
            )
    out.append(
        f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{TOP + plot_h}" y2="{TOP + plot_h}" '
        f'stroke="#888"/>'
    )
    x = LEFT
    for kind in kinds:
        colour = KIND_COLOURS.get(kind, "#555555")
        out.append(
            f'<g class="legend" data-kind="{escape(kind)}">'
            f'<rect x="{x}" y="{HEIGHT - 18}" width="10" height="10" fill="{colour}"/>'
            f'<text x="{x + 14}" y="{HEIGHT - 9}">{escape(kind)} ({sum(series[kind])})</text></g>'
        )
        x += 110
    if not kinds:
        out.append(
            f'<text x="{LEFT + plot_w / 2:.1f}" y="{TOP + plot_h / 2:.1f}" text-anchor="middle" '
            f'fill="#777">No breaks in this period</text>'
        )
    out.append("</svg>")
    return "".join(out)
