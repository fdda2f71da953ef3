#!/usr/bin/env python3
"""Medians of the room and presence runs written by scripts/bench.sh (docs/bench/)."""
import glob
import json
import statistics
import sys

out = sys.argv[1] if len(sys.argv) > 1 else "docs/bench"


def med(values):
    values = [v for v in values if v is not None]
    return round(statistics.median(values), 2) if values else None


summary = {}
for mode, pattern in [("durable", "room-[0-9].json"), ("liveOnly", "room-live-[0-9].json"), ("durable_300", "room-300-[0-9].json")]:
    runs = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/{pattern}"))]
    if not runs:
        continue
    row = {"runs": len(runs)}
    for side in ("redchat", "baseline"):
        for q in ("p50", "p99"):
            row[f"{side}_{q}_ms"] = med([r[side]["latencyMs"][q] for r in runs])
        row[f"{side}_lost"] = sum(r[side]["lost"] for r in runs)
        row[f"{side}_cpu_us_per_delivery"] = med([r[side].get("cpuUsPerDelivery") for r in runs])
    row["p99_ratio"] = round(row["redchat_p99_ms"] / row["baseline_p99_ms"], 2) if row["baseline_p99_ms"] else None
    summary[f"room_{mode}"] = row
runs = [json.load(open(p)) for p in sorted(glob.glob(f"{out}/presence-[0-9].json"))]
if runs:
    summary["presence"] = {
        "runs": len(runs),
        "users": runs[0]["users"],
        "server_commands_per_s": med([r["serverCommandsPerSecond"] for r in runs]),
        "server_cpu_percent_of_one_core": med([r["serverCpuPercentOfOneCore"] for r in runs]),
        "beats_per_s": med([r["beatsPerSecond"] for r in runs]),
    }
json.dump(summary, open(f"{out}/rooms-presence.json", "w"), indent=2)
print(json.dumps(summary, indent=2))
