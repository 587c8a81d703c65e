#!/usr/bin/env bash
# make bench-scaling: every scenario of the trace generator, load times 5 s and 30 s, from zero and
# always on, through `thaw simulate --compare`; prints each table and a closing verdict per scenario
# against issue 25's bar (Thaw's replica-seconds <= the KPA's, queued slot-seconds and cold starts
# at most half the KPA's). OUT (default docs/scaling) receives the tables and the plots.
set -euo pipefail
BIN=${BIN:?set BIN to the folder holding thaw}
OUT=${OUT:-docs/scaling}
SEEDS=${SEEDS:-1}
SCENARIOS=${SCENARIOS:-bursty diurnal sparse steady}
LOADS=${LOADS:-5 30}
PLOTS=${PLOTS:-1}
mkdir -p "$OUT"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cat > "$work/policy.yaml" <<'POLICY'
containerConcurrency: 10
annotations:
  autoscaling.knative.dev/target: "7"
  autoscaling.knative.dev/min-scale: "0"
POLICY
held=0; missed=0
summary="| trace | load | start | Thaw replica-s | KPA replica-s | Thaw queued slot-s | KPA queued slot-s | Thaw cold starts | KPA cold starts | bar |
|---|---|---|---|---|---|---|---|---|---|"
for seed in $SEEDS; do
  for scenario in $SCENARIOS; do
    # A rarely used model shows its pattern over hours, not one: sparse traffic runs three.
    duration=3600; [ "$scenario" = sparse ] && duration=10800
    "$BIN/thaw" simulate --generate "$scenario" --seed "$seed" --duration "$duration" > "$work/$scenario.csv"
    for load in $LOADS; do
      for start in zero on; do
        initial=0; [ "$start" = on ] && initial=1
        name="$scenario-seed$seed-load${load}s-$start"
        plot=(); [ "$PLOTS" = 1 ] && [ "$seed" = "${SEEDS%% *}" ] && plot=(--plot "$OUT/$name.png")
        sed "s/min-scale: \"0\"/min-scale: \"$initial\"/" "$work/policy.yaml" > "$work/p.yaml"
        "$BIN/thaw" simulate --policy "$work/p.yaml" --replay "$work/$scenario.csv" --start-delay "$load" \
          --initial-replicas "$initial" --compare "${plot[@]}" > "$work/table.txt" 2>/dev/null
        "$BIN/thaw" simulate --policy "$work/p.yaml" --replay "$work/$scenario.csv" --start-delay "$load" \
          --initial-replicas "$initial" --compare --json > "$work/rows.jsonl" 2>/dev/null
        verdict=$(python3 - "$work/rows.jsonl" "$scenario seed $seed" "${load} s" "$start" "$work/row.md" <<'PY'
import json, sys
rows = {r["policy"]: r for r in map(json.loads, open(sys.argv[1]))}
name, load, start, out = sys.argv[2:6]
t, k = rows["thaw"], rows["kpa"]
ok = (t["replicaSeconds"] <= k["replicaSeconds"]
      and t["queuedSlotSeconds"] <= 0.5 * k["queuedSlotSeconds"] + 1e-9
      and t["coldStarts"] <= 0.5 * k["coldStarts"])
def r(a, b): return "n/a" if b == 0 else f"{a / b:.2f}x"
print(("HOLDS" if ok else "MISSES"), f"replica-s {r(t['replicaSeconds'], k['replicaSeconds'])}",
      f"queued {r(t['queuedSlotSeconds'], k['queuedSlotSeconds'])}", f"cold {r(t['coldStarts'], k['coldStarts'])}")
with open(out, "w") as f:
    f.write(f"| {name} | {load} | {'from zero' if start == 'zero' else 'always on'} | {t['replicaSeconds']:.0f} | {k['replicaSeconds']:.0f} "
            f"| {t['queuedSlotSeconds']:.0f} | {k['queuedSlotSeconds']:.0f} | {t['coldStarts']} | {k['coldStarts']} | {'holds' if ok else 'misses'} |")
PY
)
        summary+=$'\n'"$(cat "$work/row.md")"
        case "$verdict" in HOLDS*) held=$((held + 1));; *) missed=$((missed + 1));; esac
        echo "### $name: $verdict"
        echo '```'
        cat "$work/table.txt"
        echo '```'
        echo
      done
    done
  done
done
echo "## Summary"
echo
echo "$summary"
echo
echo "scenarios where Thaw's policy meets the bar: $held of $((held + missed))"
