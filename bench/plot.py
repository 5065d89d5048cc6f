#!/usr/bin/env python3
"""Renders docs/benchmarks.svg from the JSON results in bench/results/ (stdlib only, the SVG
written by hand). Panels whose result file is missing are left out."""
import argparse
import json
import math
import os
import sys
from xml.sax.saxutils import escape

HERE = os.path.dirname(os.path.abspath(__file__))
RESULTS = os.path.join(HERE, "results")
OUT = os.path.join(os.path.dirname(HERE), "docs", "benchmarks.svg")

WIDTH = 960
PANEL_H = 330
FONT = "font-family='DejaVu Sans, Helvetica, Arial, sans-serif'"
COLORS = {"ltxguard": "#1b7f3b", "shell_verbatim": "#9aa0a6", "shell_fixed": "#5f6368",
          "node_exporter": "#5f6368", "evidence_warm": "#1b7f3b", "evidence_cold": "#0b5394",
          "watch_cpu_per_tick": "#e69138", "watch_longest_gap": "#a64d79", "prom": "#cc0000", "gauge": "#674ea7",
          "ours": "#0b5394"}


class Svg:
    def __init__(self):
        self.parts = []

    def add(self, s):
        self.parts.append(s)

    def text(self, x, y, s, size=12, anchor="start", color="#202124", weight="normal", rotate=None):
        tr = f" transform='rotate({rotate} {x:.1f} {y:.1f})'" if rotate is not None else ""
        self.add(f"<text x='{x:.1f}' y='{y:.1f}' {FONT} font-size='{size}' fill='{color}' "
                 f"text-anchor='{anchor}' font-weight='{weight}'{tr}>{escape(str(s))}</text>")

    def line(self, x1, y1, x2, y2, color="#202124", width=1, dash=None):
        d = f" stroke-dasharray='{dash}'" if dash else ""
        self.add(f"<line x1='{x1:.1f}' y1='{y1:.1f}' x2='{x2:.1f}' y2='{y2:.1f}' "
                 f"stroke='{color}' stroke-width='{width}'{d}/>")

    def rect(self, x, y, w, h, color, opacity=1.0):
        self.add(f"<rect x='{x:.1f}' y='{y:.1f}' width='{max(w, 0):.1f}' height='{max(h, 0):.1f}' "
                 f"fill='{color}' fill-opacity='{opacity}'/>")

    def polyline(self, pts, color, width=2, dash=None):
        d = f" stroke-dasharray='{dash}'" if dash else ""
        p = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        self.add(f"<polyline points='{p}' fill='none' stroke='{color}' stroke-width='{width}'{d}/>")

    def circle(self, x, y, r, color):
        self.add(f"<circle cx='{x:.1f}' cy='{y:.1f}' r='{r}' fill='{color}'/>")

    def render(self, height):
        return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{WIDTH}' height='{height}' "
                f"viewBox='0 0 {WIDTH} {height}'>\n<rect width='100%' height='100%' fill='white'/>\n"
                + "\n".join(self.parts) + "\n</svg>\n")


def nice_max(v):
    if v <= 0:
        return 1.0
    e = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * e:
            return m * e
    return 10 * e


def fmt_t(s):
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def count(n):
    return f"{n // 1000000}M" if n >= 1000000 and n % 1000000 == 0 else (
        f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n))


def legend(svg, x, y, items):
    for label, color in items:
        svg.rect(x, y - 9, 12, 10, color)
        svg.text(x + 16, y, label, size=11)
        x += 22 + 7 * len(label)


def panel_evidence(svg, top, doc):
    db = doc["config"]["db_bytes"]
    size = f"{db / 2**30:.2f} GiB" if db >= 2**30 else f"{db / 2**20:.0f} MiB"
    svg.text(20, top + 20, "Evidence vs the incident brief's shell sequence "
             f"({doc['fs']}, {size} DB; median, whiskers min..max; lower is better)", 14,
             weight="bold")
    groups = []
    for key, case in doc["cases"].items():
        for mode, row in case["summary"].items():
            groups.append((f"({key}) {mode}", case["what"], row, doc["ratios"][f"{key}_{mode}"]))
    names = ("shell_verbatim", "shell_fixed", "ltxguard")
    vmax = nice_max(max(r[n]["max"] for _, _, r, _ in groups for n in names))
    x0, y0, h, w = 70, top + 60, PANEL_H - 120, WIDTH - 100
    svg.line(x0, y0 + h, x0 + w, y0 + h)
    for i in range(5):
        v = vmax * i / 4
        y = y0 + h - h * i / 4
        svg.line(x0, y, x0 + w, y, "#e0e0e0")
        svg.text(x0 - 6, y + 4, fmt_t(v), 10, anchor="end")
    gw = w / len(groups)
    bw = gw / (len(names) + 1.5)
    for gi, (label, what, row, ratio) in enumerate(groups):
        gx = x0 + gi * gw + bw * 0.75
        for ni, n in enumerate(names):
            s = row[n]
            bx = gx + ni * bw
            bh = h * s["median"] / vmax
            svg.rect(bx, y0 + h - bh, bw * 0.85, bh, COLORS[n])
            cx = bx + bw * 0.425
            svg.line(cx, y0 + h - h * s["min"] / vmax, cx, y0 + h - h * s["max"] / vmax, "#202124")
            svg.text(cx, y0 + h - bh - 4, fmt_t(s["median"]), 9, anchor="middle")
        svg.text(x0 + gi * gw + gw / 2, y0 + h + 16, label, 11, anchor="middle")
        svg.text(x0 + gi * gw + gw / 2, y0 + h + 30,
                 f"ltxguard/shell {ratio['vs_verbatim']:.2f} | {ratio['vs_fixed']:.2f}", 10,
                 anchor="middle", color="#5f6368")
    legend(svg, x0, top + 42, [("shell, brief verbatim", COLORS["shell_verbatim"]),
                               ("shell, blind spots fixed", COLORS["shell_fixed"]),
                               ("ltxguard evidence", COLORS["ltxguard"])])
    cases = "; ".join(f"({k}) {c['what']}" for k, c in doc["cases"].items())
    svg.text(x0, top + PANEL_H - 14, cases + f"; target ltxguard/shell <= {doc['target_ratio']}",
             10, color="#5f6368")


def panel_scale(svg, top, doc):
    svg.text(20, top + 20, f"Scale: time vs staging files ({doc['fs']}, log-log; dashed: slope 1 "
             "through the largest point)", 14, weight="bold")
    pts = [p for p in doc["points"] if p["files"] > 0]
    series = [k for k in ("evidence_cold", "evidence_warm", "watch_longest_gap",
                          "watch_cpu_per_tick") if any(p.get(k) for p in pts)]
    xs = [p["files"] for p in pts]
    ys = [p[k]["median"] for k in series for p in pts if p.get(k)]
    x0, y0, h, w = 80, top + 50, PANEL_H - 100, WIDTH - 440
    lx0, lx1 = math.log10(min(xs)), math.log10(max(xs))
    ly0, ly1 = math.floor(math.log10(min(ys))), math.ceil(math.log10(max(ys)))
    if lx1 == lx0:
        lx1 += 1
    if ly1 == ly0:
        ly1 += 1

    def px(x):
        return x0 + w * (math.log10(x) - lx0) / (lx1 - lx0)

    def py(y):
        return y0 + h - h * (math.log10(y) - ly0) / (ly1 - ly0)

    svg.line(x0, y0 + h, x0 + w, y0 + h)
    svg.line(x0, y0, x0, y0 + h)
    for e in range(ly0, ly1 + 1):
        y = py(10 ** e)
        svg.line(x0, y, x0 + w, y, "#e0e0e0")
        svg.text(x0 - 6, y + 4, fmt_t(10 ** e), 10, anchor="end")
    for x in xs:
        svg.text(px(x), y0 + h + 16, f"{x:,}", 10, anchor="middle")
    svg.text(x0 + w / 2, y0 + h + 32, "files in the meta dir", 11, anchor="middle")
    ly = top + 70
    for k in series:
        p2 = [(px(p["files"]), py(p[k]["median"])) for p in pts if p.get(k)]
        svg.polyline(p2, COLORS[k])
        for x, y in p2:
            svg.circle(x, y, 3, COLORS[k])
        last = [p for p in pts if p.get(k)][-1]
        # Slope 1 through the largest point, clipped at the bottom of the axis.
        x_lo = max(xs[0], last["files"] * (10 ** ly0) / last[k]["median"])
        ref = [(px(x), py(last[k]["median"] * x / last["files"])) for x in (x_lo, last["files"])]
        svg.polyline(ref, COLORS[k], 1, "4,3")
        c = doc["curves"].get(k) or {}
        label = {"evidence_cold": "evidence, cold cache", "evidence_warm": "evidence, warm",
                 "watch_cpu_per_tick": "watch, CPU per tick (amortized)",
                 "watch_longest_gap": "watch, longest tick (periodic re-walk)"}[k]
        svg.rect(x0 + w + 20, ly - 9, 12, 10, COLORS[k])
        svg.text(x0 + w + 36, ly, label, 11)
        if c:
            basis = c.get("verdict_basis", "slope_last_decade")
            svg.text(x0 + w + 36, ly + 14, f"slope {c['slope_all']:.2f} (all), "
                     f"{c[basis]:.2f} (last decade"
                     + (", above 0-file base)" if basis.startswith("variable") else ")"), 10,
                     color="#5f6368")
            per = c["seconds_per_file"][-1]
            per_text = f"{per * 1e6:.1f} us" if per >= 1e-7 else f"{per * 1e9:.0f} ns"
            svg.text(x0 + w + 36, ly + 27, f"{per_text}/file at {xs[-1]:,} files: "
                     f"{c['verdict']}", 10, color="#5f6368")
        ly += 50
    rss = [(p["files"], p["watch_max_rss_bytes"]) for p in pts if p.get("watch_max_rss_bytes")]
    if rss:
        svg.text(x0 + w + 20, ly, "watch max RSS:", 10, color="#5f6368")
        svg.text(x0 + w + 20, ly + 13, ", ".join(f"{count(n)} files {b / 2**20:.0f} MiB"
                                                for n, b in rss[:2]), 10, color="#5f6368")
        svg.text(x0 + w + 20, ly + 26, ", ".join(f"{count(n)} files {b / 2**20:.0f} MiB"
                                                for n, b in rss[2:]), 10, color="#5f6368")


def panel_latency(svg, top, doc):
    k = doc["k"]
    svg.text(20, top + 20, f"Detection latency: seconds from t0, when the staging write starts "
             f"and cannot fit (30-min fill scaled by 1/{k:.0f})", 14, weight="bold")
    svg.text(20, top + 36, "top axis: the same times in minutes of the real fill (t >= 0); "
             "dotted: Litestream starts; dashed red: the disk is full; whiskers min..max",
             10, color="#5f6368")
    rows = []
    for mode, s in doc["summary"].items():
        for name, r in s["detectors"].items():
            if name.startswith(("firing ", "pending ")):
                continue  # per-alert detail: in the JSON and docs/benchmarks.md
            rows.append((mode, name, r, s))
    window = max(r["observed_seconds"] for r in doc["runs"])
    t_lo = min([0.0] + [r["min"] for _, _, r, _ in rows if r.get("fired_runs")])
    step = 60 if window - t_lo > 240 else 30
    t_lo = math.floor(t_lo / step) * step
    t_hi = math.ceil(window / step) * step
    x0, y0, w = 330, top + 70, WIDTH - 400
    bh = 16
    h = len(rows) * (bh + 6) + 10
    scale = w / (t_hi - t_lo)
    xz = x0 - t_lo * scale  # x of t0

    def colour(name):
        if name.startswith("ltxguard"):
            return COLORS["ltxguard"]
        if "ltxguard rules" in name:
            return COLORS["ours"]
        if name.startswith("Prometheus"):
            return COLORS["prom"]
        return COLORS["gauge"]

    t = t_lo
    while t <= t_hi + 1e-9:
        x = xz + t * scale
        svg.line(x, y0 - 4, x, y0 + h, "#e0e0e0")
        svg.text(x, y0 + h + 14, f"{t:.0f} s", 10, anchor="middle")
        if t >= 0:
            svg.text(x, y0 - 8, f"{t * k / 60:.0f} min", 10, anchor="middle", color="#5f6368")
        t += step
    svg.line(xz, y0 - 4, xz, y0 + h, "#202124", 1)
    svg.text(xz, y0 + h + 28, "t0", 10, anchor="middle")
    y = y0
    last_mode = None
    for mode, name, r, s in rows:
        if mode != last_mode:
            n = sum(1 for m, *_ in rows if m == mode)
            full = s.get("full_after_t0_median")
            if full is not None:
                fx = xz + full * scale
                svg.line(fx, y - 2, fx, y + n * (bh + 6) - 4, "#cc0000", 2, "5,3")
                svg.text(fx + 3, y + bh - 4, "disk full", 10, color="#cc0000")
            ls = s.get("litestream_started_before_t0")
            if ls is not None:
                lx = xz - ls * scale
                svg.line(lx, y - 2, lx, y + n * (bh + 6) - 4, "#202124", 1, "2,3")
                svg.text(lx - 3, y + n * (bh + 6) - 8, "Litestream starts", 10, anchor="end",
                         color="#5f6368")
            last_mode = mode
        svg.text(x0 - 8, y + bh - 4, f"{mode}: {name}", 11, anchor="end")
        if r.get("fired_runs"):
            a, b = sorted((xz, xz + r["median"] * scale))
            svg.rect(a, y, max(2, b - a), bh, colour(name))
            svg.line(xz + r["min"] * scale, y + bh / 2, xz + r["max"] * scale, y + bh / 2, "#202124")
            label = f"{r['median']:.1f} s"
            if r["median"] >= 0:
                label += f" ({r['median'] * k / 60:.0f} min)"
            if r["fired_runs"] < r["runs"]:
                label += f" {r['fired_runs']}/{r['runs']} runs"
            svg.text(max(b, xz) + 4, y + bh - 4, label, 10)
        else:
            svg.rect(xz, y + bh / 2 - 1, xz + window * scale - xz, 2, "#bdbdbd")
            svg.text(xz + window * scale + 4, y + bh - 4, "never", 10, color="#cc0000")
        y += bh + 6


def panel_footprint(svg, top, doc):
    res = doc["results"]
    svg.text(20, top + 20, f"watch footprint vs node_exporter ({doc['files']:,} files, 1 s "
             f"interval, {doc['seconds']} s)", 14, weight="bold")
    metrics = [("RSS max (MiB)", "rss_max_bytes", 1 / 1048576, 8.0),
               ("CPU % of a core", "cpu_percent", 1.0, 0.5)]
    x0, y0, h = 80, top + 50, PANEL_H - 110
    pw = (WIDTH - 160) / len(metrics)
    for mi, (label, key, mul, target) in enumerate(metrics):
        vals = {n: res[n][key] * mul for n in ("ltxguard", "node_exporter")}
        vmax = nice_max(max(list(vals.values()) + [target]))
        bx0 = x0 + mi * pw
        svg.line(bx0, y0 + h, bx0 + pw - 60, y0 + h)
        for i, (n, v) in enumerate(vals.items()):
            bh = h * v / vmax
            bx = bx0 + 20 + i * 110
            svg.rect(bx, y0 + h - bh, 80, bh, COLORS[n])
            svg.text(bx + 40, y0 + h - bh - 4, f"{v:.2f}", 10, anchor="middle")
            svg.text(bx + 40, y0 + h + 14, n, 10, anchor="middle")
        ty = y0 + h - h * target / vmax
        svg.line(bx0, ty, bx0 + 240, ty, "#cc0000", 1, "5,3")
        svg.text(bx0 + 244, ty + 4, f"target {target:g}", 10, color="#cc0000")
        svg.text(bx0 + 120, y0 + h + 32, label, 11, anchor="middle")


def load(name, results_dir):
    path = os.path.join(results_dir, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        return json.load(f)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--results", default=RESULTS)
    ap.add_argument("--out", default=OUT)
    args = ap.parse_args()
    svg = Svg()
    top = 10
    drawn = []
    for name, fn in (("evidence_vs_shell", panel_evidence), ("scale", panel_scale),
                     ("detection_latency", panel_latency), ("watch_footprint", panel_footprint)):
        doc = load(name, args.results)
        if doc is None:
            continue
        height = PANEL_H
        if name == "detection_latency":
            n = sum(1 for s in doc["summary"].values() for d in s["detectors"]
                    if not d.startswith(("firing ", "pending ")))
            height = 140 + n * 22
        fn(svg, top, doc)
        svg.line(10, top + height - 2, WIDTH - 10, top + height - 2, "#bdbdbd")
        top += height
        drawn.append(name)
    if not drawn:
        sys.exit(f"plot: no results in {args.results}")
    machine = None
    for name in drawn:
        machine = load(name, args.results).get("machine")
        if machine:
            break
    if machine:
        svg.text(20, top + 16, f"{machine.get('cpu_model', '')}, nproc {machine.get('nproc')}, "
                 f"{machine.get('mem_bytes', 0) / 2**30:.0f} GiB RAM, Linux {machine.get('kernel')}"
                 f", {machine.get('date', '')[:10]}; rendered by bench/plot.py", 10,
                 color="#5f6368")
        top += 24
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out + ".tmp", "w") as f:
        f.write(svg.render(top + 6))
    os.replace(args.out + ".tmp", args.out)
    print(f"plot: wrote {args.out} ({', '.join(drawn)})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
