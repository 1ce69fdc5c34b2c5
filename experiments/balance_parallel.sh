#!/usr/bin/env bash
# Run the balance experiment's arms as concurrent processes on one machine (a GPU is shared by all of them):
# the base model; each SFT arm and seed; per seed, the BFT arm is trained first, then its measures and the two
# GRPO arms that start from it run side by side. One report (balance.json + plot) is written at the end.
# The data must be prepared first (balance.py --prepare-only); every process is balance.py itself, so a
# killed run resumes by running this again. Logs: <run>/logs/<arm>-s<seed>.log.
#   experiments/balance_parallel.sh CONFIG [--max-hours H] [KEY=VALUE ...]
# Exit 0 when every process ended well, 1 when one failed (its log is named), 2 on a bad config.
set -uo pipefail
[ $# -ge 1 ] || { echo "usage: $0 CONFIG [--max-hours H] [KEY=VALUE ...]" >&2; exit 2; }
config=$1; shift
here=$(cd "$(dirname "$0")" && pwd)
py=${PYTHON:-python3}
plan=$(BALANCE_HERE=$here "$py" - "$config" "$@" <<'PY'
import os, sys
sys.path.insert(0, os.environ["BALANCE_HERE"])
from balance_config import BalanceConfig
from balancedbio.config import load_config
from balancedbio.errors import ConfigError
try:
    cfg = load_config(BalanceConfig, sys.argv[1], [a for a in sys.argv[2:] if "=" in a and not a.startswith("--")])
except ConfigError as exc:
    sys.exit(f"error: {exc}")
print(f"{cfg.output_root}/{cfg.name}")
print(" ".join(cfg.arms))
print(" ".join(map(str, cfg.seeds)))
PY
) || exit 2
{ read -r run_dir; read -r arms; read -r seeds; } <<<"$plan"
mkdir -p "$run_dir/logs"
rm -f "$run_dir"/logs/*.exit
one() {  # one() LOG [ARGS...]: balance.py on the prepared data
    local log=$1; shift
    "$py" "$here/balance.py" --config "$config" --prepared "$@" >"$run_dir/logs/$log.log" 2>&1
    local rc=$?
    echo "$rc" >"$run_dir/logs/$log.exit"
    echo "balance_parallel: $log exit $rc"
}
has() { [[ " $arms " == *" $1 "* ]]; }
pids=()
has base && { one base "$@" "arms=[base]" & pids+=($!); }
for s in $seeds; do
    for a in nll dft; do
        has $a && { one "$a-s$s" "$@" "arms=[$a]" "seeds=[$s]" & pids+=($!); }
    done
    if has bft || has bft_grpo || has bft_cagrpo; then
        (
            one "bft-s$s-train" --train-only "$@" "arms=[bft]" "seeds=[$s]"
            has bft && { one "bft-s$s" "$@" "arms=[bft]" "seeds=[$s]" & }
            has bft_grpo && { one "bft_grpo-s$s" "$@" "arms=[bft_grpo]" "seeds=[$s]" & }
            has bft_cagrpo && { one "bft_cagrpo-s$s" "$@" "arms=[bft_cagrpo]" "seeds=[$s]" & }
            wait
        ) & pids+=($!)
    fi
done
wait "${pids[@]}"
"$py" "$here/balance.py" --config "$config" --prepared --report-only "$@" 2>&1 | tail -2
failed=$(grep -Lx 0 "$run_dir"/logs/*.exit 2>/dev/null | wc -l)
[ "$failed" -eq 0 ] || { echo "balance_parallel: $failed process(es) failed; logs in $run_dir/logs" >&2; exit 1; }
