#!/usr/bin/python3
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Draws rs-bench-pool's CSV as log-log plots of cost against pool size, one
panel per metric, GStreamer's pool and ours side by side."""
import csv
import sys
from collections import defaultdict

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

PLOTTED = [
    "create", "find+touch", "cleanup, nothing expired", "cleanup, 1% expired",
    "watch prepare", "heap per session", "find p99 during cleanup", "find max during cleanup",
]


def main(csv_path, png_path):
    series = defaultdict(lambda: {"n": [], "gst": [], "rs": [], "unit": ""})
    with open(csv_path) as f:
        for row in csv.DictReader(f):
            s = series[row["metric"]]
            s["unit"] = row["unit"]
            s["n"].append(int(row["sessions"]))
            s["gst"].append(max(float(row["gst"]), 1e-3))
            s["rs"].append(max(float(row["rs"]), 1e-3))
    metrics = [m for m in PLOTTED if m in series]
    cols = 4
    rows = (len(metrics) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.4 * rows), squeeze=False)
    for ax, metric in zip(axes.flat, metrics):
        s = series[metric]
        ax.loglog(s["n"], s["gst"], "o-", color="tab:red", label="GstRtspServer 1.22")
        ax.loglog(s["n"], s["rs"], "s-", color="tab:blue", label="RtspSession")
        ax.set_title(metric, fontsize=10)
        ax.set_xlabel("sessions in pool")
        ax.set_ylabel(s["unit"])
        ax.grid(True, which="both", alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.suptitle("Session pool cost against pool size (log-log; lower is better)")
    fig.tight_layout()
    fig.savefig(png_path, dpi=90)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
