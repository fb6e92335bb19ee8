#!/usr/bin/env bash
# The real-domain walk-through (docs/emoji.md): OpenMoji drawings -> Fluent Emoji 3D, from data
# to the two shipped models. Every step is resumable: rerun the script after a kill and it goes
# on where it stopped (training resumes from its newest checkpoint).
#   1. fetch and render the emoji (scripts/fetch_emoji.sh; one fixed test split for all vendors)
#   2. the held-out pairs: the first $NPAIRS test code points drawn by OpenMoji and Fluent, with
#      Apple's drawings of the same code points
#   3. train the 64 px source generator on the OpenMoji training drawings (STEPS iterations)
#   4. its training curve (scripts/training_curve.py)
#   5. export it (g_ema + D, fp16, provenance, CC BY-SA notice): $OUT/emoji.pt
#   6. `freezeg sweep` on the Fluent training renderings, measured on those pairs: the full
#      fine-tune, FreezeG 1, FreezeG 2 with the frozen blocks' toRGB trained, and both of those
#      with FreezeD 2 (four calls into one folder; scripts/sweep_table.py ranks them all)
#   7. how much of each fine-tune to keep (scripts/blend_table.py: every setting blended with the
#      source at shares 0.1-0.5, chosen on the first half of the pairs, checked on the second);
#      export the chosen setting blended at the chosen share, $OUT/emoji-fluent3d.pt, and as it
#      is, $OUT/emoji-fluent3d-full.pt
#   8. which projection serves translation: `freezeg bench-inversion` with ground truth
#   9. the chosen setting on Apple's set (the second target), blended at the same share
# Environment: OUT (runs/emoji), DATA ($OUT/data), STEPS (source iterations), FT_STEPS
# (fine-tune iterations), FREEZEG, PY.
set -euo pipefail
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}
FREEZEG=${FREEZEG:-freezeg}
PY=${PY:-python3}
OUT=${OUT:-runs/emoji}
DATA=${DATA:-$OUT/data}
# The shipped source is the run at 11014 iterations (352 k images). STEPS=20000 trains it on to
# the 640 k images issue 21 asked for, which reconstructed and translated no better (docs/emoji.md).
STEPS=${STEPS:-11014}
FT_STEPS=${FT_STEPS:-1000}
NPAIRS=${NPAIRS:-40}
# The source: a narrow 64 px StyleGAN2 (the CPU budget decides the widths: docs/emoji.md), R1
# gamma by NVlabs ADA's rule for small data (0.0002 * 64^2 / batch 32), mapping depth 2 as there.
SOURCE_TRAIN=(--size 64 --style-dim 256 --n-mlp 2 --channels 4:128,8:128,16:64,32:32,64:16
              --batch 32 --lr 0.0025 --r1 0.0256 --seed 0 --eval-images 500
              --ckpt-every 1000 --keep 1000 --sample-every 1000 --log-every 50)
FINETUNE=(--batch 32 --lr 0.0025 --r1 0.0256 --steps "$FT_STEPS" --ckpt-every 250 --sample-every 500 --log-every 50)
OPENMOJI_NOTICE="Trained on OpenMoji 17.0.0 (https://openmoji.org, CC BY-SA 4.0): these weights are a derivative work and are shared under CC BY-SA 4.0 (https://creativecommons.org/licenses/by-sa/4.0/)."
FLUENT_NOTICE="$OPENMOJI_NOTICE Fine-tuned on Microsoft's Fluent Emoji 3D (npm @lobehub/fluent-emoji-3d 1.1.0, MIT licence, Copyright (c) Microsoft Corporation; notice in freezeg/data/examples/emoji/LICENSE-fluent-emoji.txt)."

say() { printf '\n== %s\n' "$*"; }

say "1. the emoji of three vendors, 64 px on white"
bash "$(dirname "$0")/fetch_emoji.sh" "$DATA"

say "2. $NPAIRS held-out pairs (OpenMoji input; Fluent and Apple truth)"
if [ ! -d "$OUT/pairs/apple" ]; then
    rm -rf "$OUT/pairs.tmp" && mkdir -p "$OUT/pairs.tmp/openmoji" "$OUT/pairs.tmp/fluent3d" "$OUT/pairs.tmp/apple"
    comm -12 <(ls "$DATA/openmoji/test") <(ls "$DATA/fluent3d/test") | comm -12 - <(ls "$DATA/apple/test") |
        head -n "$NPAIRS" | while read -r f; do
        for vendor in openmoji fluent3d apple; do cp "$DATA/$vendor/test/$f" "$OUT/pairs.tmp/$vendor/"; done
    done
    rm -rf "$OUT/pairs" && mv "$OUT/pairs.tmp" "$OUT/pairs"
fi

say "3. the OpenMoji source generator, $STEPS iterations of batch 32"
if [ -f "$OUT/source/run.json" ]; then
    "$FREEZEG" train --resume --steps "$STEPS" "${SOURCE_TRAIN[@]}" --out "$OUT/source"
else
    "$FREEZEG" train "$DATA/openmoji/train" --steps "$STEPS" "${SOURCE_TRAIN[@]}" --out "$OUT/source"
fi

say "4. its training curve: SWD, KID against the held-out OpenMoji, held-out reconstruction (100 steps)"
"$PY" "$(dirname "$0")/training_curve.py" "$OUT/source" --held-out "$OUT/pairs/openmoji" --real "$DATA/openmoji/test" \
    --every 2 --out "$OUT/source-curve.csv"

say "5. export the source with its discriminator"
[ -e "$OUT/emoji.pt" ] || "$PY" "$(dirname "$0")/export_source.py" "$OUT/source" "$OUT/emoji.pt" --keep-d \
    --notice "$OPENMOJI_NOTICE"

say "6. the sweep on Fluent 3D, $FT_STEPS iterations per setting, measured on the held-out pairs"
sweep() { "$FREEZEG" sweep "$DATA/fluent3d/train" --from "$OUT/emoji.pt" "$@" "${FINETUNE[@]}" \
              --pairs "$OUT/pairs/openmoji" "$OUT/pairs/fluent3d" --out "$OUT/sweep-fluent3d"; }
sweep --freeze-g 1,0
sweep --freeze-g 2 --coarse-rgb train
sweep --freeze-g 1 --freeze-d 2
sweep --freeze-g 2 --freeze-d 2 --coarse-rgb train
"$PY" "$(dirname "$0")/sweep_table.py" "$OUT/sweep-fluent3d"

say "7. how much of each fine-tune to keep: blends with the source, chosen on half the pairs"
"$PY" "$(dirname "$0")/blend_table.py" "$OUT/sweep-fluent3d"
read -r best share < <("$PY" -c 'import json, sys; c = json.load(open(sys.argv[1]))["choice"]
if c: print(c["setting"], format(c["share"], "g"))' "$OUT/sweep-fluent3d/blends.json") || true
if [ -z "${share:-}" ]; then  # no blend beats the inputs: ship the sweep's own recommendation whole
    best=$("$PY" "$(dirname "$0")/sweep_table.py" "$OUT/sweep-fluent3d" --best) share=1
fi
[ -e "$OUT/emoji-fluent3d-full.pt" ] || "$PY" "$(dirname "$0")/export_source.py" "$OUT/sweep-fluent3d/$best" \
    "$OUT/emoji-fluent3d-full.pt" --notice "$FLUENT_NOTICE"
blend=(--blend-with "$OUT/emoji.pt" --share "$share")
[ "$share" = 1 ] && blend=()  # whole: keep the fine-tune's own mapping network too
[ -e "$OUT/emoji-fluent3d.pt" ] || "$PY" "$(dirname "$0")/export_source.py" "$OUT/sweep-fluent3d/$best" \
    "$OUT/emoji-fluent3d.pt" "${blend[@]}" --notice "$FLUENT_NOTICE"

say "8. which projection serves translation: recipes and pivotal tuning against the Fluent truth"
[ -e "$OUT/kid-fluent-test.json" ] || "$FREEZEG" metrics realism --real "$DATA/fluent3d/train" \
    --fake "$DATA/fluent3d/test" --out "$OUT/kid-fluent-test.json"
# (the first 20 pairs and 100 tuning steps, to fit the CPU time we had: docs/emoji.md)
[ -e "$OUT/study-fluent3d.json" ] || "$FREEZEG" bench-inversion --ckpt "$OUT/emoji.pt" --images "$OUT/pairs/openmoji" \
    --n 20 --runs stylegan2@w:300,default:300,default+pt:300 --pt-steps 100 --target "$OUT/emoji-fluent3d.pt" \
    --target-images "$DATA/fluent3d/test" --truth "$OUT/pairs/fluent3d" --out "$OUT/study-fluent3d.json"

say "9. the same setting ($best, blended at $share) on Apple's set"
levels=(--freeze-g "$(echo "$best" | sed -E 's/^g([0-9]+).*/\1/')")
if [[ $best == *-d* ]]; then levels+=(--freeze-d "$(echo "$best" | sed -E 's/.*-d([0-9]+).*/\1/')"); fi
if [[ $best == *-rgb ]]; then levels+=(--coarse-rgb train); fi
mkdir -p "$OUT/sweep-apple" && cp -rn "$OUT/sweep-fluent3d/projection" "$OUT/sweep-apple/"  # projected once
"$FREEZEG" sweep "$DATA/apple/train" --from "$OUT/emoji.pt" "${levels[@]}" "${FINETUNE[@]}" \
    --pairs "$OUT/pairs/openmoji" "$OUT/pairs/apple" --out "$OUT/sweep-apple"
"$PY" "$(dirname "$0")/blend_table.py" "$OUT/sweep-apple" --shares "$share,1"
echo "source $OUT/emoji.pt, target $OUT/emoji-fluent3d.pt ($best blended at $share; whole: $OUT/emoji-fluent3d-full.pt)"
