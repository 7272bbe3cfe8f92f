"""Server-side SVG charts: no JavaScript, no CDN, readable on a laptop and a phone.

The one chart renderer (ground floor: imports nothing of returnrisk): the dashboard pages, the HTML fix report
(:mod:`returnrisk.fixes.report`) and the monitoring report all draw with it. Every chart is an ``<svg class="chart" data-chart="…" role="img">`` with a title for screen readers;
the browser tests count them and check they have drawn marks.
"""

from __future__ import annotations

from html import escape

__all__ = ["line_chart", "bar_chart", "band_chart", "paired_bars", "stacked_size_bars", "drivers_chart",
           "PALETTE"]

PALETTE = {
    "ink": "#1d2433", "muted": "#6b7280", "grid": "#e5e7eb", "blue": "#2563eb", "orange": "#d97706",
    "red": "#dc2626", "green": "#059669", "purple": "#7c3aed", "teal": "#0d9488", "grey": "#9ca3af",
}
REASON_COLOURS = {
    "too_small": "#2563eb", "too_large": "#7c3aed", "looks_different": "#d97706", "not_as_described": "#0d9488",
    "quality": "#dc2626", "other": "#9ca3af",
}


def _svg(kind: str, title: str, width: int, height: int, body: str) -> str:
    return (f'<svg class="chart" data-chart="{kind}" role="img" aria-label="{escape(title)}" '
            f'viewBox="0 0 {width} {height}" preserveAspectRatio="xMidYMid meet" '
            f'xmlns="http://www.w3.org/2000/svg"><title>{escape(title)}</title>{body}</svg>')


def _fmt(value: float, percent: bool) -> str:
    return f"{value:.0%}" if percent else (f"{value:,.0f}" if abs(value) >= 10 else f"{value:.1f}")


def _y_grid(top_value: float, y, left: float, right_edge: float, label) -> list[str]:
    """Five horizontal grid lines from 0 to ``top_value``, labelled on the left."""
    parts = []
    for k in range(5):
        v = top_value * k / 4
        parts.append(f'<line x1="{left}" x2="{right_edge}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="{PALETTE["grid"]}"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" font-size="11" '
                     f'fill="{PALETTE["muted"]}">{label(v)}</text>')
    return parts


def _empty(kind: str, title: str, message: str) -> str:
    return _svg(kind, title, 600, 80, f'<text class="mark" x="300" y="45" text-anchor="middle" '
                                      f'fill="{PALETTE["muted"]}" font-size="14">{escape(message)}</text>')


def line_chart(title: str, labels: list[str], series: dict[str, list[float | None]], *,
               provisional: list[bool] | None = None, expected: list[float | None] | None = None,
               percent: bool = True, width: int = 640, height: int = 240, empty: str = "no data",
               marker: tuple[int, str] | None = None) -> str:
    """Lines over periods; provisional periods are shaded and their expected final value dotted;
    ``marker`` ``(index, label)`` draws a labelled vertical line at that period (e.g. a fix going live)."""
    values = [v for s in series.values() for v in s if v is not None] + [v for v in expected or [] if v is not None]
    if not labels or not values:
        return _empty("line", title, empty)
    left, right, top, bottom = 48, 12, 12, 34
    if len(series) > 1:
        top = 26   # room for the legend above the plot, clear of the lines and of the marker's label
    w, h = width - left - right, height - top - bottom
    high = max(values) * 1.15 or 1.0
    n = len(labels)
    x = lambda i: left + (w * i / max(n - 1, 1))  # noqa: E731
    y = lambda v: top + h - h * v / high  # noqa: E731
    parts = _y_grid(high, y, left, width - right, lambda v: _fmt(v, percent))
    for i, flag in enumerate(provisional or []):
        if flag:
            x0 = x(i) - w / max(n - 1, 1) / 2
            parts.append(f'<rect class="provisional" x="{max(x0, left):.1f}" y="{top}" '
                         f'width="{w / max(n - 1, 1):.1f}" height="{h}" fill="#fef3c7" opacity="0.8"/>')
    step = max(1, n // 8)
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" font-size="11" '
                     f'fill="{PALETTE["muted"]}">{escape(labels[i])}</text>')
    colours = [PALETTE["blue"], PALETTE["orange"], PALETTE["green"], PALETTE["purple"]]
    for (name, data), colour in zip(series.items(), colours):
        points = [(x(i), y(v)) for i, v in enumerate(data) if v is not None]
        if points:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline class="mark" points="{path}" fill="none" stroke="{colour}" stroke-width="2.2">'
                         f'<title>{escape(name)}</title></polyline>')
            parts.extend(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="2.6" fill="{colour}"/>' for px, py in points)
    if marker is not None and 0 <= marker[0] < n:
        mx = x(marker[0])
        parts.append(f'<line class="marker" x1="{mx:.1f}" x2="{mx:.1f}" y1="{top}" y2="{top + h}" '
                     f'stroke="{PALETTE["ink"]}" stroke-dasharray="3 3"/>'
                     f'<text x="{mx + 4:.1f}" y="{top + 11}" font-size="11" fill="{PALETTE["ink"]}">'
                     f'{escape(marker[1])}</text>')
    legend_x = left + 8
    if len(series) > 1:
        for (name, _), colour in zip(series.items(), colours):
            parts.append(f'<rect class="legend" x="{legend_x}" y="4" width="10" height="10" fill="{colour}"/>'
                         f'<text x="{legend_x + 14}" y="13" font-size="11" fill="{PALETTE["ink"]}">'
                         f'{escape(name)}</text>')
            legend_x += 24 + 7 * len(name)
    if expected:
        pts = [(x(i), y(v)) for i, v in enumerate(expected) if v is not None]
        if pts:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in pts)
            parts.append(f'<polyline class="mark expected" points="{path}" fill="none" stroke="{PALETTE["red"]}" '
                         f'stroke-width="2" stroke-dasharray="5 4"/>')
    return _svg("line", title, width, height, "".join(parts))


def bar_chart(title: str, items: list[tuple[str, float]], *, percent: bool = True, width: int = 640,
              colours: dict[str, str] | None = None, empty: str = "no data") -> str:
    """Horizontal bars, largest first as given."""
    if not items:
        return _empty("bar", title, empty)
    row, left, right = 26, 230, 60
    height = row * len(items) + 10
    high = max(v for _, v in items) or 1.0
    parts = []
    for i, (label, value) in enumerate(items):
        y0 = 5 + i * row
        bar = (width - left - right) * value / high
        colour = (colours or {}).get(label, PALETTE["blue"])
        parts.append(f'<text x="{left - 8}" y="{y0 + 16}" text-anchor="end" font-size="12" fill="{PALETTE["ink"]}">'
                     f'{escape(label)}</text>'
                     f'<rect class="mark" x="{left}" y="{y0 + 4}" width="{max(bar, 1):.1f}" height="{row - 8}" '
                     f'rx="3" fill="{colour}"><title>{escape(label)}: {_fmt(value, percent)}</title></rect>'
                     f'<text x="{left + bar + 6:.1f}" y="{y0 + 16}" font-size="12" fill="{PALETTE["muted"]}">'
                     f'{_fmt(value, percent)}</text>')
    return _svg("bar", title, width, height, "".join(parts))


def band_chart(title: str, labels: list[str], expected: list[float], low: list[float], high: list[float], *,
               width: int = 640, height: int = 240, empty: str = "no data") -> str:
    """Expected values with their interval as a shaded band (the returns forecast)."""
    if not labels:
        return _empty("band", title, empty)
    left, right, top, bottom = 48, 12, 12, 34
    w, h = width - left - right, height - top - bottom
    top_value = max(high) * 1.1 or 1.0
    n = len(labels)
    x = lambda i: left + w * i / max(n - 1, 1)  # noqa: E731
    y = lambda v: top + h - h * v / top_value  # noqa: E731
    parts = _y_grid(top_value, y, left, width - right, lambda v: f"{v:,.0f}")
    band = [f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(high)] + \
           [f"{x(i):.1f},{y(v):.1f}" for i, v in reversed(list(enumerate(low)))]
    parts.append(f'<polygon class="mark" points="{" ".join(band)}" fill="#bfdbfe" opacity="0.8"/>')
    path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(expected))
    parts.append(f'<polyline class="mark" points="{path}" fill="none" stroke="{PALETTE["blue"]}" stroke-width="2.2"/>')
    for i, v in enumerate(expected):
        parts.append(f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="2.6" fill="{PALETTE["blue"]}">'
                     f'<title>{escape(labels[i])}: {v:.0f} ({low[i]:.0f}–{high[i]:.0f})</title></circle>')
    step = max(1, n // 7)
    for i in range(0, n, step):
        parts.append(f'<text x="{x(i):.1f}" y="{height - 12}" text-anchor="middle" font-size="11" '
                     f'fill="{PALETTE["muted"]}">{escape(labels[i])}</text>')
    return _svg("band", title, width, height, "".join(parts))


def paired_bars(title: str, items: list[tuple[str, float, float]], names: tuple[str, str], *,
                width: int = 640, empty: str = "no data", flagged: list[bool] | None = None,
                flagged_name: str = "") -> str:
    """For each label, this item's rate beside its reference (e.g. product vs category).

    With ``flagged`` (one flag per item), this item's bar is red where flagged (legend
    ``flagged_name``) and blue elsewhere; without, every bar of this item is red.
    """
    if not items:
        return _empty("paired", title, empty)
    row, left, right = 34, 150, 120
    height = row * len(items) + 30
    high = max(max(a, b) for _, a, b in items) or 1.0
    mine = PALETTE["red"] if flagged is None else PALETTE["blue"]
    colours = [PALETTE["red"] if flagged is not None and flagged[i] else mine for i in range(len(items))]
    parts = [f'<rect x="{left}" y="4" width="10" height="10" fill="{mine}"/>'
             f'<text x="{left + 14}" y="13" font-size="11">{escape(names[0])}</text>'
             f'<rect x="{left + 140}" y="4" width="10" height="10" fill="{PALETTE["grey"]}"/>'
             f'<text x="{left + 154}" y="13" font-size="11">{escape(names[1])}</text>']
    if flagged is not None:
        parts.append(f'<rect x="{left + 280}" y="4" width="10" height="10" fill="{PALETTE["red"]}"/>'
                     f'<text x="{left + 294}" y="13" font-size="11">{escape(flagged_name)}</text>')
    for i, (label, a, b) in enumerate(items):
        y0 = 24 + i * row
        wa = (width - left - right) * a / high
        wb = (width - left - right) * b / high
        parts.append(f'<text x="{left - 8}" y="{y0 + 17}" text-anchor="end" font-size="12">{escape(label)}</text>'
                     f'<rect class="mark" x="{left}" y="{y0 + 2}" width="{max(wa, 1):.1f}" height="12" rx="2" '
                     f'fill="{colours[i]}"><title>{escape(names[0])}: {a:.1%}</title></rect>'
                     f'<rect class="mark" x="{left}" y="{y0 + 16}" width="{max(wb, 1):.1f}" height="12" rx="2" '
                     f'fill="{PALETTE["grey"]}"><title>{escape(names[1])}: {b:.1%}</title></rect>'
                     f'<text x="{left + max(wa, wb) + 6:.1f}" y="{y0 + 17}" font-size="11" fill="{PALETTE["muted"]}">'
                     f'{a:.1%} / {b:.1%}</text>')
    return _svg("paired", title, width, height, "".join(parts))


def stacked_size_bars(title: str, sizes: list[str], small: list[float], large: list[float],
                      names: tuple[str, str], *, width: int = 640, height: int = 220, empty: str = "no data") -> str:
    """Per size: too-small rate below, too-large rate above (how a product fits across its range)."""
    if not sizes:
        return _empty("sizes", title, empty)
    left, right, top, bottom = 44, 10, 24, 30
    w, h = width - left - right, height - top - bottom
    high = max([s + l for s, l in zip(small, large)] + [0.05]) * 1.15
    slot = w / len(sizes)
    parts = [f'<rect x="{left}" y="4" width="10" height="10" fill="{REASON_COLOURS["too_small"]}"/>'
             f'<text x="{left + 14}" y="13" font-size="11">{escape(names[0])}</text>'
             f'<rect x="{left + 130}" y="4" width="10" height="10" fill="{REASON_COLOURS["too_large"]}"/>'
             f'<text x="{left + 144}" y="13" font-size="11">{escape(names[1])}</text>']
    for k in range(4):
        v = high * k / 3
        yy = top + h - h * v / high
        parts.append(f'<line x1="{left}" x2="{width - right}" y1="{yy:.1f}" y2="{yy:.1f}" stroke="{PALETTE["grid"]}"/>'
                     f'<text x="{left - 5}" y="{yy + 4:.1f}" text-anchor="end" font-size="10" '
                     f'fill="{PALETTE["muted"]}">{v:.0%}</text>')
    for i, (size, s, l) in enumerate(zip(sizes, small, large)):
        x0 = left + i * slot + slot * 0.2
        bw = slot * 0.6
        hs, hl = h * s / high, h * l / high
        parts.append(f'<rect class="mark" x="{x0:.1f}" y="{top + h - hs:.1f}" width="{bw:.1f}" height="{max(hs, 0.5):.1f}" '
                     f'fill="{REASON_COLOURS["too_small"]}"><title>{escape(size)} {escape(names[0])}: {s:.1%}</title></rect>'
                     f'<rect class="mark" x="{x0:.1f}" y="{top + h - hs - hl:.1f}" width="{bw:.1f}" '
                     f'height="{max(hl, 0.5):.1f}" fill="{REASON_COLOURS["too_large"]}">'
                     f'<title>{escape(size)} {escape(names[1])}: {l:.1%}</title></rect>'
                     f'<text x="{x0 + bw / 2:.1f}" y="{height - 10}" text-anchor="middle" font-size="11">{escape(size)}</text>')
    return _svg("sizes", title, width, height, "".join(parts))


def drivers_chart(title: str, drivers: list[dict], *, width: int = 640, empty: str = "no data") -> str:
    """SHAP contributions as diverging bars (red raises the risk, green lowers it).

    Each driver has ``label`` and ``contribution``, and optionally ``value_text`` (shown as
    ``label = value``).
    """
    if not drivers:
        return _empty("drivers", title, empty)
    row, middle = 28, width * 0.62
    height = row * len(drivers) + 10
    high = max(abs(d["contribution"]) for d in drivers) or 1.0
    half = width - middle - 70
    parts = [f'<line x1="{middle}" x2="{middle}" y1="0" y2="{height}" stroke="{PALETTE["grid"]}"/>']
    for i, d in enumerate(drivers):
        y0 = 5 + i * row
        length = half * abs(d["contribution"]) / high
        positive = d["contribution"] > 0
        x0 = middle if positive else middle - length
        colour = PALETTE["red"] if positive else PALETTE["green"]
        label = f'{d["label"]} = {d["value_text"]}' if "value_text" in d else d["label"]
        parts.append(f'<text x="{middle - 8 - (0 if positive else length)}" y="{y0 + 16}" text-anchor="end" '
                     f'font-size="11">{escape(label[:60])}</text>'
                     f'<rect class="mark" x="{x0:.1f}" y="{y0 + 4}" width="{max(length, 1):.1f}" height="{row - 10}" '
                     f'rx="2" fill="{colour}"><title>{escape(label)}: {d["contribution"]:+.3f}</title></rect>'
                     f'<text x="{(middle + length + 5) if positive else middle + 5:.1f}" y="{y0 + 16}" font-size="11" '
                     f'fill="{PALETTE["muted"]}">{d["contribution"]:+.2f}</text>')
    return _svg("drivers", title, width, height, "".join(parts))
