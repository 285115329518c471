"""The simmer's health as an SVG line chart, rendered on the server: no JavaScript."""

from __future__ import annotations

from html import escape

WIDTH, HEIGHT, PAD = 640, 200, 36


def health_chart(samples: list[dict], label: str) -> str:
    """One circle per sample (a failed reading in red, on the axis); the line joins the readings."""
    points = [(i, s.get("value"), s.get("ok", True)) for i, s in enumerate(samples)]
    values = [v for _, v, _ in points if v is not None]
    if not points:
        return "<p>No health samples yet.</p>"
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    span = (high - low) or 1.0
    step = (WIDTH - 2 * PAD) / max(1, len(points) - 1)

    def xy(i: int, v: float | None) -> tuple[float, float]:
        y = HEIGHT - PAD if v is None else HEIGHT - PAD - (v - low) / span * (HEIGHT - 2 * PAD)
        return PAD + i * step, y

    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in (xy(i, v) for i, v, ok in points if v is not None))
    dots = "".join(
        f'<circle class="point{"" if ok and v is not None else " bad"}" '
        f'cx="{xy(i, v)[0]:.1f}" cy="{xy(i, v)[1]:.1f}" r="3">'
        f"<title>{escape(samples[i].get('at') or '')}: {'' if v is None else f'{v:g}'}</title></circle>"
        for i, v, ok in points
    )
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="chart-title">'
        f'<title id="chart-title">{escape(label)}: {len(points)} samples from {low:g} to {high:g}</title>'
        f'<text x="{PAD}" y="14">{high:g}</text><text x="{PAD}" y="{HEIGHT - 8}">{low:g}</text>'
        f'<polyline class="line" points="{line}"/>{dots}</svg>'
    )
