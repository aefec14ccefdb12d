#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Draws rs-bench-pool's CSV: log-log plots of cost against pool size, one
panel per metric, GStreamer's pool and ours side by side (with each one's
floor, dashed, where there is one), and a panel of throughput against the
number of threads."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PLOTTED = [
    "create", "find+touch", "cleanup, nothing expired", "expiry per expired session",
    "watch prepare", "heap per session", "find p99 during cleanup", "find max during cleanup",
]
FLOORS = {"find+touch": "find+touch floor", "expiry per expired session": "expiry floor"}
THROUGHPUT = ["find+touch throughput", "create/remove churn throughput"]


def main(csv_path, png_path):
    series = defaultdict(lambda: {"n": [], "gst": [], "rs": [], "unit": ""})
    threads = defaultdict(lambda: {"t": [], "gst": [], "rs": [], "n": 0})
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            if int(row.get("threads", 0) or 0) > 0:
                s = threads[row["metric"]]
                s["t"].append(int(row["threads"]))
                s["n"] = int(row["sessions"])
                s["gst"].append(float(row["gst"]))
                s["rs"].append(float(row["rs"]))
                continue
            s = series[row["metric"]]
            s["unit"] = row["unit"]
            s["n"].append(int(row["sessions"]))
            s["gst"].append(max(float(row["gst"]), 1e-3))
            s["rs"].append(max(float(row["rs"]), 1e-3))
    metrics = [m for m in PLOTTED if m in series]
    panels = len(metrics) + (1 if threads else 0)
    cols = 3
    rows = (panels + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.4 * cols, 3.4 * rows), squeeze=False)
    flat = list(axes.flat)
    for ax, metric in zip(flat, metrics):
        s = series[metric]
        ax.loglog(s["n"], s["gst"], "o-", color="tab:red", label="GstRtspServer 1.22")
        ax.loglog(s["n"], s["rs"], "s-", color="tab:blue", label="RtspSession")
        floor = series.get(FLOORS.get(metric))
        if floor:
            ax.loglog(floor["n"], floor["gst"], "o--", color="tab:red", alpha=0.5, label="GStreamer's floor")
            ax.loglog(floor["n"], floor["rs"], "s--", color="tab:blue", alpha=0.5, label="our floor")
            ax.legend(fontsize=7)
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("sessions in pool")
        ax.set_ylabel(s["unit"])
        ax.grid(True, which="both", alpha=0.3)
    if threads:
        ax = flat[len(metrics)]
        styles = {"find+touch throughput": "-", "create/remove churn throughput": ":"}
        n = 0
        for metric in THROUGHPUT:
            s = threads.get(metric)
            if not s:
                continue
            n = s["n"]
            label = metric.replace(" throughput", "")
            ax.plot(s["t"], s["gst"], "o" + styles[metric], color="tab:red", label=f"GStreamer {label}")
            ax.plot(s["t"], s["rs"], "s" + styles[metric], color="tab:blue", label=f"ours {label}")
        ax.set_title(f"throughput at {n} sessions (higher is better)", fontsize=10)
        ax.set_xlabel("threads")
        ax.set_ylabel("Mops/s")
        ax.set_xticks(sorted({t for s in threads.values() for t in s["t"]}))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    for ax in flat[panels:]:
        ax.axis("off")
    flat[0].legend(fontsize=8)
    fig.suptitle("Session pool cost against pool size (log-log; lower is better)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
