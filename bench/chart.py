"""Time against size, one line per step, as a self-contained SVG (no plotting library needed).

Both axes are logarithmic: a line with slope 1 grows in proportion to the data. Our steps
are solid lines, the pandas way dashed, in the same colour as the step it mirrors.
"""

from __future__ import annotations

import math
from html import escape

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#7f7f7f")


def _ticks(low: float, high: float) -> list[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)]


def _label(value: float, unit: str = "") -> str:
    if value >= 1_000_000:
        return f"{value / 1_000_000:g}M{unit}"
    if value >= 1_000:
        return f"{value / 1_000:g}k{unit}"
    return f"{value:g}{unit}"


def svg_chart(series: list[dict], title: str, width: int = 860, height: int = 520) -> str:
    """``series``: dicts with ``name``, ``points`` [(size, seconds)], ``colour`` index and ``dashed``."""
    points = [(x, y) for s in series for x, y in s["points"] if x > 0 and y and y > 0]
    if not points:
        return f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="80"><text x="10" y="40">no data</text></svg>'
    left, right, top, bottom = 70, 250, 40, 50
    xs = _ticks(min(p[0] for p in points), max(p[0] for p in points))
    ys = _ticks(min(p[1] for p in points), max(p[1] for p in points))
    x0, x1 = math.log10(xs[0]), math.log10(xs[-1]) if xs[-1] > xs[0] else math.log10(xs[0]) + 1
    y0, y1 = math.log10(ys[0]), math.log10(ys[-1]) if ys[-1] > ys[0] else math.log10(ys[0]) + 1
    plot_w, plot_h = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (math.log10(x) - x0) / (x1 - x0) * plot_w

    def py(y: float) -> float:
        return top + plot_h - (math.log10(y) - y0) / (y1 - y0) * plot_h

    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
           'font-family="Helvetica, Arial, sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{left}" y="24" font-size="15" font-weight="bold">{escape(title)}</text>']
    for x in xs:
        out.append(f'<line x1="{px(x):.1f}" y1="{top}" x2="{px(x):.1f}" y2="{top + plot_h}" stroke="#ddd"/>')
        out.append(f'<text x="{px(x):.1f}" y="{top + plot_h + 18}" text-anchor="middle">{_label(x)}</text>')
    for y in ys:
        out.append(f'<line x1="{left}" y1="{py(y):.1f}" x2="{left + plot_w}" y2="{py(y):.1f}" stroke="#ddd"/>')
        text = f"{y:g} s" if y >= 0.01 else f"{y * 1000:g} ms"
        out.append(f'<text x="{left - 6}" y="{py(y) + 4:.1f}" text-anchor="end">{text}</text>')
    out.append(f'<rect x="{left}" y="{top}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#888"/>')
    out.append(f'<text x="{left + plot_w / 2}" y="{height - 10}" text-anchor="middle">contracts (log scale)</text>')
    out.append(f'<text x="16" y="{top + plot_h / 2}" transform="rotate(-90 16 {top + plot_h / 2})" '
               'text-anchor="middle">wall-clock seconds (log scale)</text>')
    for i, s in enumerate(series):
        pts = [(x, y) for x, y in s["points"] if x > 0 and y and y > 0]
        colour = PALETTE[s.get("colour", i) % len(PALETTE)]
        dash = ' stroke-dasharray="6 4"' if s.get("dashed") else ""
        if len(pts) > 1:
            path = " ".join(f"{'M' if j == 0 else 'L'}{px(x):.1f},{py(y):.1f}" for j, (x, y) in enumerate(pts))
            out.append(f'<path d="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>')
        for x, y in pts:
            out.append(f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{colour}"/>')
        ly = top + 14 + i * 20
        lx = left + plot_w + 16
        out.append(f'<line x1="{lx}" y1="{ly - 4}" x2="{lx + 26}" y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash}/>')
        out.append(f'<text x="{lx + 32}" y="{ly}">{escape(s["name"])}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"


def png_from_svg(svg_path: str, png_path: str) -> bool:
    """Render the SVG to PNG with headless chromium when one is installed; False when not."""
    import shutil
    import subprocess
    from pathlib import Path

    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        return False
    svg = Path(svg_path).resolve()
    text = svg.read_text()
    try:
        width = int(text.split('width="', 1)[1].split('"', 1)[0])
        height = int(text.split('height="', 1)[1].split('"', 1)[0])
    except (IndexError, ValueError):
        width, height = 860, 520
    try:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--window-size={width},{height}", f"--screenshot={Path(png_path).resolve()}", svg.as_uri()],
            check=True, capture_output=True, timeout=60,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return Path(png_path).exists()
