#!/usr/bin/env bash
# Train the mini-zoo one model after another (resumable: rerun to continue an interrupted model).
# Usage, from the repository root:  bash analyses/train_zoo/run_zoo.sh
set -euo pipefail
models="${*:-convrnn_small_rgc ff_small_wider_rgc convrnn_small_vanilla ff_small_wider_vanilla ff_small_deeper_rgc}"
for m in $models; do
    .venv/bin/brainfit train --config "analyses/train_zoo/$m.yaml" --out "results/zoo/$m" --quiet \
        >> "results/zoo/$m.log" 2>&1
done
