#!/usr/bin/env python3
"""Turns the benchmark parts (target/bench/parts/*.json) into the results table, the results JSON,
one PNG chart per benchmark, and docs/performance.md.

  report.py --parts DIR --json FILE --doc FILE --charts DIR [--command "bench/run.sh"]

Every goal compares Hoist with a reference measured side by side in the same run (a ratio), or, where
the issue sets an absolute bound (fan-out latency and memory), with that bound.
"""
import argparse
import json
import os
import statistics
import sys
from datetime import datetime, timezone

GiB = 1 << 30
MB = 1e6


def load(parts, name):
    path = os.path.join(parts, name + ".json")
    if not os.path.exists(path):
        err = os.path.join(parts, name + ".error")
        return None, (open(err).read().strip() if os.path.exists(err) else "not run")
    with open(path) as f:
        return json.load(f), None


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, unit="", digits=1):
    if x is None:
        return "n/a"
    return f"{x:,.{digits}f}{unit}"


def round_ratio(runs, key, num, den, value):
    """Median over rounds of value(num run) / value(den run) within the same round: robust to the
    machine getting busier or quieter between rounds (the runs of one round are seconds apart)."""
    rounds = {}
    for r in runs:
        rounds.setdefault(r["round"], {})[r[key]] = r
    ratios = [value(x[num]) / value(x[den]) for x in rounds.values()
              if num in x and den in x and value(x[num]) and value(x[den])]
    return median(ratios), ratios


def lat_fmt(lat, censored, k):
    return ("≥ " if censored and censored.get(k) else "") + fmt(lat.get(k), " ms")


class Row:
    def __init__(self, bench, metric, hoist, reference, ratio, goal, passed, note="", verdict=None):
        self.bench, self.metric, self.hoist, self.reference = bench, metric, hoist, reference
        self.ratio, self.goal, self.passed, self.note = ratio, goal, passed, note
        self.verdict = verdict or ("n/a" if passed is None else ("PASS" if passed else "FAIL"))

    def cells(self):
        verdict = self.verdict
        ratio = "—" if self.ratio is None else f"{self.ratio:.2f}×"
        return [self.bench, self.metric, self.hoist, self.reference, ratio, self.goal, verdict]

    def json(self):
        return {"benchmark": self.bench, "metric": self.metric, "hoist": self.hoist, "reference": self.reference,
                "ratio": self.ratio, "goal": self.goal, "pass": self.passed, "verdict": self.verdict, "note": self.note}


HEADER = ["benchmark", "metric", "Hoist", "reference", "ratio", "goal", "result"]


# ----------------------------------------------------------------------------- per benchmark

def download_rows(d):
    by = {}
    for r in d["runs"]:
        by.setdefault(r["tool"], []).append(r)
    stats = {}
    for tool, runs in by.items():
        secs = median([r["seconds"] for r in runs])
        cpu = median([r["cpu_s"] for r in runs])
        stats[tool] = {
            "runs": len(runs), "seconds_median": secs,
            "mb_per_s": d["size"] / secs / MB if secs else None,
            "cpu_s_median": cpu,
            "cpu_s_per_gb": cpu / (d["size"] / 1e9) if cpu is not None else None,
            "seconds_all": [r["seconds"] for r in runs],
        }
    # Where Hoist's CPU went, by thread group: median over its runs, per GB.
    for tool in ("hoist", "hoist-quiet"):
        runs = [r for r in by.get(tool, []) if r.get("threads_cpu_s")]
        if runs:
            groups = sorted({g for r in runs for g in r["threads_cpu_s"]})
            per_gb = {g: median([r["threads_cpu_s"].get(g, 0) for r in runs]) / (d["size"] / 1e9) for g in groups}
            stats[tool]["threads_cpu_s_per_gb"] = dict(sorted(per_gb.items(), key=lambda kv: -kv[1]))
    d["stats"] = stats
    h, c, a = stats.get("hoist"), stats.get("curl"), stats.get("aria2c")
    rows = []
    size = f"{d['size'] / GiB:g} GiB" if d["size"] >= GiB else f"{d['size'] >> 20} MiB"

    def row(ref, name, goal):
        if not h or not ref or not h["mb_per_s"] or not ref["mb_per_s"]:
            return Row("1. download", f"{size} vs {name}", "n/a", "n/a", None, f"≥ {goal}× {name}", None)
        tool = "curl" if ref is c else "aria2c"
        ratio, each = round_ratio(d["runs"], "tool", tool, "hoist", lambda r: r["seconds"])
        stats["hoist"]["ratio_vs_" + tool] = {"median": ratio, "per_round": each}
        return Row("1. download", f"{size}, MB/s (CPU s/GB) vs {name}",
                   f"{h['mb_per_s']:,.0f} ({h['cpu_s_per_gb']:.2f})",
                   f"{ref['mb_per_s']:,.0f} ({ref['cpu_s_per_gb']:.2f})",
                   ratio, f"≥ {goal}×", ratio >= goal)
    rows.append(row(c, "curl", 1.0))
    rows.append(row(a, "aria2c -x8", 0.9))
    # Not a goal, shown beside it: the first download of the measured file by each freshly started Hoist
    # (after its 256 MiB warm-up), while the JIT is still compiling the download path.
    fresh = [r["seconds"] for r in d["runs"] if r["tool"] in ("warm-up", "warm-up-quiet") and r["round"] == 1 and r["seconds"]]
    if fresh and c and c["seconds_median"]:
        secs = median(fresh)
        stats["fresh_jvm"] = {"seconds_all": fresh, "seconds_median": secs, "mb_per_s": d["size"] / secs / MB,
                              "ratio_vs_curl_median": c["seconds_median"] / secs}
        rows.append(Row("1. download", f"{size}, MB/s: a fresh JVM's first download of it (after 256 MiB) vs curl",
                        f"{d['size'] / secs / MB:,.0f}", f"{c['mb_per_s']:,.0f}", c["seconds_median"] / secs,
                        "— (shown, not a goal)", None, verdict="info"))
    return rows


def overhead_rows(d):
    s = d.get("stats", {})
    on, off = s.get("hoist"), s.get("hoist-quiet")
    if not on or not off or not on["seconds_median"] or not off["seconds_median"]:
        return [Row("5. overhead", "progress 200 ms vs 10 s", "n/a", "n/a", None, "≤ 3 % apart", None)]
    # Pairs: every round of benchmark 1 (the two Hoists among curl and aria2c) and the extra back-to-back
    # pairs (tools overhead-on / overhead-off, ABBA order).
    pairs = [dict(r, tool={"overhead-on": "hoist", "overhead-off": "hoist-quiet"}.get(r["tool"], r["tool"]))
             for r in d["runs"] if r["tool"] in ("hoist", "hoist-quiet", "overhead-on", "overhead-off")]
    ratio, each = round_ratio(pairs, "tool", "hoist", "hoist-quiet", lambda r: r["seconds"])
    cpu_ratio, cpu_each = round_ratio(pairs, "tool", "hoist", "hoist-quiet", lambda r: r["cpu_s"])
    on_all = [r for r in pairs if r["tool"] == "hoist"]
    off_all = [r for r in pairs if r["tool"] == "hoist-quiet"]
    on_s, off_s = median([r["seconds"] for r in on_all]), median([r["seconds"] for r in off_all])
    on_cpu, off_cpu = median([r["cpu_s"] for r in on_all]), median([r["cpu_s"] for r in off_all])
    gb = d["size"] / 1e9
    # Standard error of the median ratio (1.253 σ/√n); the verdict stands only if the median ± 2 SE
    # lies wholly inside or wholly outside the ±3 % band.
    se = 1.253 * statistics.stdev(each) / len(each) ** 0.5 if len(each) > 1 else None
    passed = abs(ratio - 1) <= 0.03
    lo, hi = (ratio - 2 * se, ratio + 2 * se) if se is not None else (ratio, ratio)
    decided = (lo >= 0.97 and hi <= 1.03) or hi < 0.97 or lo > 1.03
    on["ratio_vs_quiet"] = {"median": ratio, "per_pair": each, "se": se, "cpu_median": cpu_ratio,
                            "cpu_per_pair": cpu_each, "pairs": len(each), "seconds_median_all": on_s,
                            "quiet_seconds_median_all": off_s, "cpu_s_per_gb_all": on_cpu / gb if on_cpu else None,
                            "quiet_cpu_s_per_gb_all": off_cpu / gb if off_cpu else None}
    note = (f"{len(each)} pairs; time ratio median {ratio:.3f} ± {2 * se:.3f} (2 SE); CPU ratio median {cpu_ratio:.3f}; "
            f"per pair {', '.join(f'{x:.2f}' for x in each)}" if se is not None else "")
    return [Row("5. overhead", f"download s, progress every 200 ms vs every 10 s ({len(each)} pairs)",
                f"{on_s:.2f} s ({on_cpu / gb:.2f} CPU s/GB)",
                f"{off_s:.2f} s ({off_cpu / gb:.2f} CPU s/GB)",
                ratio, "within 1 ± 0.03×", passed if decided else None, note,
                verdict=None if decided else f"NOISY ({'pass' if passed else 'fail'}?)")]


def load_rows(d):
    stats = {}
    for r in d["runs"]:
        stats.setdefault((r["mode"], r["tool"]), []).append(r)
    out = {}
    for (mode, tool), runs in stats.items():
        secs = median([r["seconds"] for r in runs])
        out.setdefault(mode, {})[tool] = {
            "runs": len(runs), "seconds_median": secs, "gb_per_s": d["size"] / secs / 1e9 if secs else None,
            "cpu_s_median": median([r["cpu_s"] for r in runs]),
            "prepared": sorted({r["prepared"] for r in runs}),
            "cached_pct": [r["cached_pct"] for r in runs],
        }
    d["stats"] = out
    rows = []
    size = f"{d['size'] / GiB:g} GiB" if d["size"] >= GiB else f"{d['size'] >> 20} MiB"
    for mode in ("warm", "cold"):
        m = out.get(mode, {})
        h, c = m.get("hoist"), m.get("cat")
        if not h or not c or not h["gb_per_s"] or not c["gb_per_s"]:
            rows.append(Row("2. load", f"{size} page cache {mode}", "n/a", "n/a", None, "≥ 0.8× cat", None))
            continue
        really_cold = mode == "warm" or ("none" not in h["prepared"] and "none" not in c["prepared"])
        ratio = h["gb_per_s"] / c["gb_per_s"]
        how = "" if mode == "warm" else f" ({'/'.join(h['prepared'])})"
        rows.append(Row("2. load", f"{size}, GB/s, page cache {mode}{how} vs cat",
                        f"{h['gb_per_s']:.2f}", f"{c['gb_per_s']:.2f}", ratio, "≥ 0.8×",
                        ratio >= 0.8 if really_cold else None,
                        "" if really_cold else "the page cache could not be dropped here: not a cold read"))
    return rows


def fanout_rows(d):
    lat, cen = d["latency_ms"], d.get("latency_censored", {})
    shape = (f"{d['connected']:,} connected, {d['live_subscribers']:,} following \"*\"; "
             f"{d['operations_running']} ops × {d['per_op_hz']:.1f} Hz")
    ref = d.get("live_only")
    ref_lat, ref_cen = (ref["latency_ms"], ref.get("latency_censored", {})) if ref else (None, None)
    closed = sum(d.get("closed_by_server", {}).values())
    rows = [
        Row("3. fan-out", f"p99 latency ({shape}); reference: the {d['live_subscribers']} alone",
            f"{lat_fmt(lat, cen, 'p99')} (p50 {lat_fmt(lat, cen, 'p50')})",
            f"{lat_fmt(ref_lat, ref_cen, 'p99')} (p50 {lat_fmt(ref_lat, ref_cen, 'p50')})" if ref_lat else "not run",
            lat["p99"] / ref_lat["p99"] if ref_lat and ref_lat["p99"] and lat["p99"] is not None else None,
            "p99 < 100 ms", lat["p99"] is not None and not cen.get("p99") and lat["p99"] < 100),
        Row("3. fan-out", f"heap per idle connection ({d['connected']:,} subscribed to \"*\")",
            fmt(d["heap_per_idle_connection"] / 1000 if d["heap_per_idle_connection"] else None, " KB"),
            f"{(d['heap_idle'] - d['heap_baseline']) / 1048576:.1f} MiB in all", None, "≤ 20 KB",
            d["heap_per_idle_connection"] is not None and d["heap_per_idle_connection"] <= 20_000),
        Row("3. fan-out", "final states missed (cancelled; per live subscriber × operation)",
            f"{d['final_states_missed']:,} of {d['final_states_expected']:,}"
            + (f"; {closed:,} connections closed by Hoist" if closed else ""),
            (f"alone: {ref['final_states_missed']:,} of {ref['final_states_expected']:,}" if ref else "not run"),
            None, "0", d["final_states_missed"] == 0 and d["final_states_expected"] > 0),
    ]
    return rows


def rest_rows(d):
    by = {}
    for r in d["runs"]:
        by.setdefault(r["target"], []).append(r)
    stats = {t: {"rps_median": median([r["rps"] for r in rs]),
                 "p50_ms": median([r["latency_us"]["p50"] / 1000 for r in rs]),
                 "p99_ms": median([r["latency_us"]["p99"] / 1000 for r in rs]),
                 "errors": sum(r["errors"] for r in rs),
                 "jvm_cpu_s_per_10k": median([r["jvm_cpu_s"] / r["requests"] * 10_000 for r in rs if r["requests"]])}
             for t, rs in by.items()}
    d["stats"] = stats
    h, b = stats.get("hoist"), stats.get("baseline")
    if not h or not b or not b["rps_median"]:
        return [Row("4. REST polling", "GET /api/llm/progress/{id}", "n/a", "n/a", None, "≥ 0.7×", None)]
    ratio, each = round_ratio(d["runs"], "target", "hoist", "baseline", lambda r: r["rps"])
    h["ratio_per_round"] = each
    return [Row("4. REST polling", f"req/s (p99 ms), {d['connections']} connections, vs constant-JSON route",
                f"{h['rps_median']:,.0f} ({h['p99_ms']:.1f})", f"{b['rps_median']:,.0f} ({b['p99_ms']:.1f})",
                ratio, "≥ 0.7×", ratio >= 0.7 and h["errors"] == 0)]


def memory_rows(d):
    used = (d["heap_after"] - d["heap_before"]) / 1048576
    return [Row("6. memory", f"heap for {d['operations']:,} finished ops × {d['logs_per_operation']} log lines",
                f"{used:.1f} MiB", f"{d['heap_before'] / 1048576:.1f} MiB before", None, "< 64 MiB", used < 64)]


# ----------------------------------------------------------------------------- charts

def charts(results, out_dir):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("report: matplotlib is missing; no charts (apt-get install python3-matplotlib)", file=sys.stderr)
        return {}
    os.makedirs(out_dir, exist_ok=True)
    made = {}
    b = results["benchmarks"]
    colors = {"hoist": "#d9534f", "ref": "#5b8def", "ref2": "#7fbf7f", "quiet": "#f0ad4e"}

    def save(fig, name):
        path = os.path.join(out_dir, name)
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)
        made[name.split(".")[0]] = name

    def bars(ax, labels, values, cols, unit, points=None):
        xs = range(len(labels))
        ax.bar(xs, [v or 0 for v in values], color=cols)
        for i, (x, v) in enumerate(zip(xs, values)):
            if v is not None:
                top = max([v] + (list(points[i]) if points else []))
                text = f"{v:,.0f}" if v >= 100 else f"{v:.2f}" if v < 10 else f"{v:.1f}"
                ax.text(x + 0.3, top, text + unit, ha="center", va="bottom", fontsize=9)
        if points:
            for x, ps in zip(xs, points):
                ax.scatter([x] * len(ps), ps, color="black", s=10, zorder=3)
        ax.set_xticks(list(xs))
        ax.set_xticklabels(labels)

    d = b.get("download")
    if d and d.get("stats"):
        s = d["stats"]
        tools = [t for t in ("curl", "aria2c", "hoist", "hoist-quiet") if t in s]
        label = {"curl": "curl", "aria2c": "aria2c -x8 -s8", "hoist": "Hoist", "hoist-quiet": "Hoist\n(progress 10 s)"}
        col = {"curl": colors["ref"], "aria2c": colors["ref2"], "hoist": colors["hoist"], "hoist-quiet": colors["quiet"]}
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4))
        bars(a1, [label[t] for t in tools], [s[t]["mb_per_s"] for t in tools], [col[t] for t in tools], "",
             [[d["size"] / x / MB for x in s[t]["seconds_all"] if x] for t in tools])
        a1.set_ylabel("MB/s (median; dots: each run)")
        a1.set_title(f"Download of {d['size'] / GiB:g} GiB from nginx on loopback")
        bars(a2, [label[t] for t in tools], [s[t]["cpu_s_per_gb"] for t in tools], [col[t] for t in tools], "")
        a2.set_ylabel("CPU seconds per GB")
        a2.set_title("CPU per GB (lower is better)")
        save(fig, "download.png")

        if "hoist" in s and "hoist-quiet" in s:
            fig, ax = plt.subplots(figsize=(6, 4))
            rounds = sorted({r["round"] for r in d["runs"] if r["tool"] in ("hoist", "hoist-quiet")})
            for tool, c in (("hoist", colors["hoist"]), ("hoist-quiet", colors["quiet"])):
                ys = [next((r["seconds"] for r in d["runs"] if r["tool"] == tool and r["round"] == n), None) for n in rounds]
                ax.plot(rounds, ys, marker="o", color=c, label=label[tool].replace("\n", " "))
            ax.set_xlabel("round")
            ax.set_ylabel("download stage, seconds")
            ax.set_ylim(bottom=0)
            ax.set_xticks(rounds)
            ax.legend()
            ax.set_title("Progress every 200 ms vs every 10 s")
            save(fig, "overhead.png")

    d = b.get("load")
    if d and d.get("stats"):
        s = d["stats"]
        modes = [m for m in ("warm", "cold") if m in s]
        fig, ax = plt.subplots(figsize=(6, 4))
        w = 0.35
        for i, (tool, c) in enumerate((("cat", colors["ref"]), ("hoist", colors["hoist"]))):
            vals = [s[m].get(tool, {}).get("gb_per_s") or 0 for m in modes]
            xs = [j + (i - 0.5) * w for j in range(len(modes))]
            ax.bar(xs, vals, w, color=c, label="cat file > /dev/null" if tool == "cat" else "Hoist load stage")
            for x, v in zip(xs, vals):
                ax.text(x, v, f"{v:.2f}", ha="center", va="bottom", fontsize=9)
        ax.set_xticks(range(len(modes)))
        ax.set_xticklabels([f"page cache {m}" for m in modes])
        ax.set_ylabel("GB/s (median)")
        ax.set_title(f"Load of a {d['size'] / GiB:g} GiB safetensors file")
        ax.legend()
        save(fig, "load.png")

    d = b.get("fanout")
    if d and d.get("latency_histogram"):
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(10, 4), gridspec_kw={"width_ratios": [3, 1]})
        hist = d["latency_histogram"]
        labels = [f"≤{h['le']}" if h["le"] not in ("inf", "lost") else (">5000" if h["le"] == "inf" else "never\narrived")
                  for h in hist]
        ref = d.get("live_only")
        w = 0.4 if ref else 0.8
        total = sum(h["count"] for h in hist) or 1
        a1.bar([i - (w / 2 if ref else 0) for i in range(len(hist))], [100 * h["count"] / total for h in hist], w,
               color=colors["hoist"], label=f"{d['live_subscribers']} live among {d['connected']:,} connections")
        if ref:
            rhist = ref["latency_histogram"]
            rtotal = sum(h["count"] for h in rhist) or 1
            a1.bar([i + w / 2 for i in range(len(rhist))], [100 * h["count"] / rtotal for h in rhist], w,
                   color=colors["ref"], label=f"the {ref['live_subscribers']} live ones alone")
        a1.axvline(6.5, color="black", linestyle="--", linewidth=1)
        a1.legend(fontsize=8)
        a1.set_xticks(range(len(hist)))
        a1.set_xticklabels(labels, rotation=45, fontsize=8)
        a1.set_xlabel("delivery latency, ms (publish → client receipt)")
        a1.set_ylabel("% of updates")
        lat = d["latency_ms"]
        cen = d.get("latency_censored", {})
        a1.set_title(f"{d['live_subscribers']} live of {d['connected']:,} connections: "
                     f"p50 {lat_fmt(lat, cen, 'p50')}, p99 {lat_fmt(lat, cen, 'p99')}", fontsize=10)
        kb = (d["heap_per_idle_connection"] or 0) / 1000
        a2.bar([0], [kb], color=colors["ref2"] if kb <= 20 else colors["hoist"])
        a2.axhline(20, color="black", linestyle="--", label="goal 20 KB")
        a2.text(0, kb, f"{kb:.1f} KB", ha="center", va="bottom")
        a2.set_xticks([0])
        a2.set_xticklabels(["heap per\nidle connection"])
        a2.set_ylim(0, max(25, kb * 1.2))
        a2.legend(fontsize=8)
        save(fig, "fanout.png")

    d = b.get("rest")
    if d and d.get("stats"):
        s = d["stats"]
        fig, (a1, a2) = plt.subplots(1, 2, figsize=(9, 4))
        names = [t for t in ("baseline", "hoist") if t in s]
        lab = {"baseline": "constant JSON\nroute", "hoist": "GET /api/llm/\nprogress/{id}"}
        cols = [colors["ref"] if t == "baseline" else colors["hoist"] for t in names]
        bars(a1, [lab[t] for t in names], [s[t]["rps_median"] for t in names], cols, "",
             [[r["rps"] for r in d["runs"] if r["target"] == t] for t in names])
        a1.set_ylabel("requests/s (median; dots: each run)")
        a1.set_title(f"wrk, {d['connections']} connections")
        bars(a2, [lab[t] for t in names], [s[t]["p99_ms"] for t in names], cols, " ms")
        a2.set_ylabel("p99 latency, ms")
        a2.set_title("p99 latency")
        save(fig, "rest.png")

    d = b.get("memory")
    if d:
        fig, ax = plt.subplots(figsize=(5, 4))
        before, after = d["heap_before"] / 1048576, d["heap_after"] / 1048576
        ax.bar([0, 1], [before, after], color=[colors["ref"], colors["hoist"]])
        ax.axhline(before + 64, color="black", linestyle="--", label="goal: baseline + 64 MiB")
        for x, v in ((0, before), (1, after)):
            ax.text(x, v, f"{v:.1f} MiB", ha="center", va="bottom")
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["heap before", f"after {d['operations']:,} ops\n× {d['logs_per_operation']} lines"])
        ax.set_ylabel("heap used after full GC, MiB")
        ax.set_ylim(0, max(before + 70, after * 1.2))
        ax.legend(fontsize=8)
        ax.set_title("Finished operations in the live list")
        save(fig, "memory.png")
    return made


# ----------------------------------------------------------------------------- document

def table_md(rows):
    lines = ["| " + " | ".join(HEADER) + " |", "|" + "---|" * len(HEADER)]
    for r in rows:
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r.cells()) + " |")
    return "\n".join(lines)


def table_text(rows):
    cells = [HEADER] + [r.cells() for r in rows]
    widths = [max(len(c[i]) for c in cells) for i in range(len(HEADER))]
    out = []
    for n, c in enumerate(cells):
        out.append("  ".join(x.ljust(w) for x, w in zip(c, widths)))
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    return "\n".join(out)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--parts", required=True)
    ap.add_argument("--json", required=True)
    ap.add_argument("--doc")
    ap.add_argument("--charts")
    ap.add_argument("--command", default="bench/run.sh")
    a = ap.parse_args()

    machine, _ = load(a.parts, "machine")
    # When the run ended (its last part written), so a page re-rendered later still dates the run.
    ended = max((os.path.getmtime(os.path.join(a.parts, n)) for n in os.listdir(a.parts)), default=None)
    results = {"generated_at": (datetime.fromtimestamp(ended, timezone.utc) if ended else datetime.now(timezone.utc))
               .isoformat(timespec="seconds"),
               "command": a.command, "machine": machine or {}, "benchmarks": {}, "errors": {}}
    rows = []
    for name, fn in (("download", download_rows), ("load", load_rows), ("fanout", fanout_rows),
                     ("rest", rest_rows), ("memory", memory_rows)):
        d, err = load(a.parts, name)
        if d is None:
            results["errors"][name] = err
            continue
        results["benchmarks"][name] = d
        rows.extend(fn(d))
        if name == "download":
            rows.extend(overhead_rows(d))
    order = ["1.", "2.", "3.", "4.", "5.", "6."]
    rows.sort(key=lambda r: order.index(r.bench[:2]))
    results["table"] = [r.json() for r in rows]

    print()
    print(table_text(rows))
    for name, err in results["errors"].items():
        print(f"\n{name}: NOT MEASURED — {err}")
    print()

    chart_files = charts(results, a.charts) if a.charts else {}
    os.makedirs(os.path.dirname(os.path.abspath(a.json)), exist_ok=True)
    with open(a.json, "w") as f:
        json.dump(results, f, indent=1)
    if a.doc:
        import doc
        rel = os.path.relpath(a.charts, os.path.dirname(os.path.abspath(a.doc))) if a.charts else "."
        with open(a.doc, "w") as f:
            f.write(doc.render(results, rows, table_md(rows), chart_files, rel))
    counts = {}
    goals = [r for r in rows if r.verdict != "info"]
    for r in goals:
        counts[r.verdict.split(" ")[0]] = counts.get(r.verdict.split(" ")[0], 0) + 1
    print(", ".join(f"{v} {k}" for k, v in counts.items()) + f" of {len(goals)} goals; results in {a.json}"
          + (f", {a.doc}" if a.doc else ""))


if __name__ == "__main__":
    main()
