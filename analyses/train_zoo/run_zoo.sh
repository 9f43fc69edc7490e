#!/usr/bin/env bash
# Train the mini-zoo one model after another (resumable: rerun to continue an interrupted model).
# Usage, from the repository root:  bash analyses/train_zoo/run_zoo.sh [NAME ...]
# The ConvRNN configs fine-tune the 7-step weights in init/ for the 26-step scoring schedule; those
# weights come from convrnn_small_<cell>_7step.yaml (run_zoo.sh convrnn_small_rgc_7step, then copy
# results/zoo/convrnn_small_rgc_7step/model.pt to init/convrnn_small_rgc_7step.pt).
set -euo pipefail
mkdir -p results/zoo
models="${*:-convrnn_small_rgc ff_small_wider_rgc convrnn_small_vanilla ff_small_wider_vanilla ff_small_deeper_rgc}"
for m in $models; do
    .venv/bin/brainfit train --config "analyses/train_zoo/$m.yaml" --out "results/zoo/$m" --quiet \
        >> "results/zoo/$m.log" 2>&1
done
