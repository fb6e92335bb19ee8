#!/usr/bin/env bash
# The whole freezeg pipeline on the bundled synthetic domains, sized for a laptop CPU:
#   1. render a source domain (glossy 3-D blobs) and a target domain (cartoons) of the same objects
#   2. train a small StyleGAN2 on the blobs from scratch
#   3. fine-tune it on the cartoons with its coarse layers frozen (FreezeG + FreezeD)
#   4. compare source and target for the same latents (pairs, interpolation loop, layer blend)
#   5. translate unseen blob images into cartoons (project with the source, render with the target)
#   6. measure realism (SWD), structure preservation and inversion fidelity
# Everything goes under $DEMO_DIR (default runs/demo). Rerunning continues where it stopped:
# finished steps are skipped and interrupted training resumes from its last checkpoint.
set -euo pipefail

FREEZEG=${FREEZEG:-freezeg}
OUT=${DEMO_DIR:-runs/demo}
SOURCE_STEPS=${SOURCE_STEPS:-3000}
TARGET_STEPS=${TARGET_STEPS:-1000}
MODEL=(--size 32 --style-dim 64 --n-mlp 4 --channels 4:64,8:64,16:64,32:32)
BOOKKEEPING=(--batch 16 --ckpt-every 250 --sample-every 250 --log-every 100 --eval-images 300)

say() { printf '\n== %s\n' "$*"; }
# Run "$@" unless its output $1 exists already (outputs are written atomically, so existing means finished).
make_once() { local out=$1; shift; if [ -e "$out" ]; then echo "   (have $out)"; else "$@"; fi; }
# Start a training run, or resume it when its folder holds one (a finished run resumes as a no-op).
train_run() { local run=$1; shift; if [ -f "$run/run.json" ]; then "$FREEZEG" "$1" --resume --out "$run"; else "$FREEZEG" "$@" --out "$run"; fi; }

say "1. synthetic domains: blobs (source), cartoons (target), unseen test scenes"
make_once "$OUT/data/blobs" "$FREEZEG" synth --domain blobs --n 2000 --size 32 --seed 0 --out "$OUT/data/blobs"
make_once "$OUT/data/cartoon" "$FREEZEG" synth --domain cartoon --n 300 --size 32 --seed 1 --out "$OUT/data/cartoon"
make_once "$OUT/data/test-blobs" "$FREEZEG" synth --domain blobs --n 8 --size 32 --seed 2 --out "$OUT/data/test-blobs"
make_once "$OUT/data/test-cartoon" "$FREEZEG" synth --domain cartoon --n 8 --size 32 --seed 2 --out "$OUT/data/test-cartoon"

say "2. train the source generator on blobs ($SOURCE_STEPS iterations)"
train_run "$OUT/source" train "$OUT/data/blobs" "${MODEL[@]}" "${BOOKKEEPING[@]}" --steps "$SOURCE_STEPS"

say "3. fine-tune on cartoons: G trains only its 16px and 32px blocks, D only its 16px and 8px blocks and head"
"$FREEZEG" freeze-plan --ckpt "$OUT/source" --freeze-g 2 --freeze-d 2
train_run "$OUT/target" finetune "$OUT/data/cartoon" --from "$OUT/source" --freeze-g 2 --freeze-d 2 \
    "${BOOKKEEPING[@]}" --steps "$TARGET_STEPS" --ada-kimg 20

say "4. source vs target for the same latents"
make_once "$OUT/pairs.png" "$FREEZEG" pairs --source "$OUT/source" --target "$OUT/target" --seeds 0-15 --out "$OUT/pairs.png"
make_once "$OUT/loop.gif" "$FREEZEG" interpolate --source "$OUT/source" --target "$OUT/target" --seeds 1,5,9,13 \
    --frames 48 --fps 16 --out "$OUT/loop.gif"
make_once "$OUT/blend-swap32.pt" "$FREEZEG" blend --source "$OUT/source" --target "$OUT/target" --swap-at 32 \
    --out "$OUT/blend-swap32.pt"
make_once "$OUT/pairs-blend.png" "$FREEZEG" pairs --source "$OUT/source" --target "$OUT/blend-swap32.pt" --seeds 0-7 \
    --out "$OUT/pairs-blend.png"

say "5. translate unseen blob images into cartoons (W+ projection with noise, 300 steps)"
"$FREEZEG" translate "$OUT/data/test-blobs/images" --source "$OUT/source" --target "$OUT/target" \
    --out "$OUT/translate" --space w+ --steps 300
make_once "$OUT/mix.png" "$FREEZEG" mix --source "$OUT/source" --target "$OUT/target" --content-seeds 0-3 \
    --style-seeds 20-23 --mix-from 16px --out "$OUT/mix.png"

say "6. metrics"
make_once "$OUT/metrics-realism.json" "$FREEZEG" metrics realism --real "$OUT/data/cartoon" --ckpt "$OUT/target" --n 300 --out "$OUT/metrics-realism.json"
make_once "$OUT/metrics-structure.json" "$FREEZEG" metrics structure "$OUT/data/test-blobs/images" \
    "$OUT/translate/translated" --out "$OUT/metrics-structure.json"
# The synthetic test scenes also exist as ground-truth cartoons: how close do translations come?
make_once "$OUT/metrics-structure-vs-truth.json" "$FREEZEG" metrics structure "$OUT/data/test-cartoon/images" \
    "$OUT/translate/translated" --out "$OUT/metrics-structure-vs-truth.json"

say "done: open $OUT/translate/summary.html, $OUT/pairs.png, $OUT/loop.gif, $OUT/target/samples/"
