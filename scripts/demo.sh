#!/usr/bin/env bash
# Does freezing help, and by how much? The whole freezeg pipeline on synthetic domains whose
# ground truth is known, sized for a laptop CPU (2.5 minutes on 2 cores, the real part included):
#   1. start from the shipped source generator, a 32px StyleGAN2 trained on glossy 3-D blobs
#      (RETRAIN=1 trains it from scratch first, with the command recorded in the shipped file)
#   2. render two target domains of the same objects: cartoons (same silhouettes, new rendering)
#      and stars (the cartoon style, but another silhouette: the counterpart of face2dog), and
#      unseen test scenes in all three domains
#   3. project the unseen test blobs once into the source generator
#   4. for each target (side by side, one core each), `freezeg sweep`: fine-tune with G's coarse
#      layers frozen (--freeze-g 2: only the 16px and 32px blocks train) and without
#      (--freeze-g 0: everything trains), same steps and seed; translate the test blobs from
#      those projections with both and compare with the true renderings of those scenes
#   5. source vs fine-tuned for the same latents: interpolation loop, layer blend, style mixing,
#      translation panels
#   6. real drawings: the held-out example emoji shipped with the package, translated from OpenMoji
#      to Fluent Emoji 3D by the shipped `emoji` and `emoji-fluent3d` models (emoji.png: input |
#      reconstruction | translation | true Fluent drawing)
# Everything goes under $DEMO_DIR (default runs/demo; runs/demo-retrain with RETRAIN=1).
# Rerunning continues where it stopped: finished steps are skipped, interrupted training resumes.
set -euo pipefail
START=$SECONDS
# OpenMP threads that sleep instead of spinning while they wait: on a CPU shared with other
# jobs, spinning threads made a training iteration 25x slower here (0.49 s vs 12 s, 2 threads).
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-PASSIVE}

FREEZEG=${FREEZEG:-freezeg}
PY=${PY:-python3}
RETRAIN=${RETRAIN:-0}
SHIPPED=src/freezeg/data/pretrained/blobs32.pt
if [ "$RETRAIN" = 1 ]; then OUT=${DEMO_DIR:-runs/demo-retrain}; else OUT=${DEMO_DIR:-runs/demo}; fi
# Iterations of each fine-tune (batch 8). 200 keeps the demo within 3 minutes with its real part
# on 2 cores; at 300 the same conclusions held with a wider realism gap (docs/experiments.md).
TARGET_STEPS=${TARGET_STEPS:-200}
# How the test scenes are projected into the source generator: `freezeg translate`'s options
# (the sweeps take them as --project-OPTION). Empty: the default recipe (W+, 300 steps; see
# README's "Closer inversions"). Change projection settings here only.
PROJECTION=()
# The source generator: what RETRAIN=1 runs, and what the shipped file records it was made with.
SOURCE_DATA=(synth --domain blobs --n 2000 --size 32 --seed 0 --out "$OUT/data/blobs")
SOURCE_TRAIN=(train "$OUT/data/blobs" --size 32 --style-dim 64 --n-mlp 4 --channels 4:64,8:64,16:64,32:32
              --batch 16 --ckpt-every 250 --sample-every 250 --log-every 100 --eval-images 300 --steps 3000)
# The real part: held-out example emoji shipped with the package, translated by the shipped emoji
# models with these `freezeg translate` options (docs/emoji.md: what wins on the held-out pairs).
EMOJI=src/freezeg/data/examples/emoji
EMOJI_TRANSLATE=()
FINETUNE=(--batch 8 --ada-kimg 20 --steps "$TARGET_STEPS" --ckpt-every 100 --sample-every 100 --log-every 100)

if [ "${PRINT_RETRAIN:-0}" = 1 ]; then  # for tests: the source's commands, without running anything
    echo "freezeg ${SOURCE_DATA[*]}"
    echo "freezeg ${SOURCE_TRAIN[*]} --out $OUT/source"
    exit 0
fi

# Each step's heading says how long the demo has run so far (where the minutes go).
say() { printf '\n== [%d:%02d] %s\n' $(((SECONDS - START) / 60)) $(((SECONDS - START) % 60)) "$*"; }
# Run "$@" unless its output $1 exists already (outputs are written atomically, so existing means finished).
make_once() { local out=$1; shift; if [ -e "$out" ]; then echo "   (have $out)"; else "$@"; fi; }
# Start a training run, or resume it when its folder holds one (a finished run resumes as a no-op).
train_run() { local run=$1; shift; if [ -f "$run/run.json" ]; then "$FREEZEG" "$1" --resume --out "$run"; else "$FREEZEG" "$@" --out "$run"; fi; }
# Wait for every background job in $running; the first that failed stops the demo (set -e).
wait_all() { local job; for job in "${running[@]}"; do wait "$job"; done; running=(); }

if [ "$RETRAIN" = 1 ]; then
    say "0. train the source generator on 2000 blobs from scratch (3000 iterations), keep its g_ema and D"
    make_once "$OUT/data/blobs" "$FREEZEG" "${SOURCE_DATA[@]}"
    train_run "$OUT/source" "${SOURCE_TRAIN[@]}"
    make_once "$OUT/source.pt" "$PY" scripts/export_source.py "$OUT/source" "$OUT/source.pt" --keep-d
    SOURCE=$OUT/source.pt
else
    SOURCE=$SHIPPED
fi
say "1. the source generator: $SOURCE (\`freezeg inspect\` shows its provenance), and its samples"
say "2. target domains (cartoon: same silhouettes; star: another silhouette) and unseen test scenes"
say "3. meanwhile, project the unseen test blobs once into the source generator (${PROJECTION[*]:-default recipe, W+, 300 steps})"
# Independent commands run side by side: each spends much of its time starting Python and torch.
# The projection needs only the test blobs, so it starts as soon as they exist.
running=()
{
    make_once "$OUT/data/test-blobs" "$FREEZEG" synth --domain blobs --n 8 --size 32 --seed 2 --out "$OUT/data/test-blobs"
    "$FREEZEG" project "$OUT/data/test-blobs/images" --ckpt "$SOURCE" --out "$OUT/projection" "${PROJECTION[@]}" -q
} & running+=("$!")
make_once "$OUT/source-samples.png" "$FREEZEG" generate --ckpt "$SOURCE" --seeds 0-15 \
    --out "$OUT/source-samples.png" & running+=("$!")
for domain in cartoon star; do
    make_once "$OUT/data/$domain" "$FREEZEG" synth --domain "$domain" --n 300 --size 32 --seed 1 \
        --out "$OUT/data/$domain" & running+=("$!")
    make_once "$OUT/data/test-$domain" "$FREEZEG" synth --domain "$domain" --n 8 --size 32 --seed 2 \
        --out "$OUT/data/test-$domain" & running+=("$!")
done
# The real part's projection (step 6) needs nothing from steps 1-5: it starts now, on one thread
# beside them, and step 6 only waits for it and draws the panel.
mkdir -p "$OUT"
OMP_NUM_THREADS=1 "$FREEZEG" translate "$EMOJI/openmoji" --source emoji --target emoji-fluent3d --out "$OUT/emoji" \
    "${EMOJI_TRANSLATE[@]}" -q > "$OUT/emoji.log" 2>&1 & emoji_job=$!
wait_all

say "4. cartoon and star side by side (one core each): fine-tune frozen (--freeze-g 2) and full (--freeze-g 0),
   $TARGET_STEPS iterations each, translate the test blobs from those projections, compare with the truth"
pids=()
for domain in cartoon star; do
    mkdir -p "$OUT/$domain" && cp -rn "$OUT/projection" "$OUT/$domain/"  # the sweep finds them projected
    OMP_NUM_THREADS=1 "$FREEZEG" sweep "$OUT/data/$domain" --from "$SOURCE" --freeze-g 0,2 "${FINETUNE[@]}" --swd-only \
        --out "$OUT/$domain" --pairs "$OUT/data/test-blobs/images" "$OUT/data/test-$domain/images" \
        "${PROJECTION[@]/#--/--project-}" > "$OUT/$domain/sweep.log" 2>&1 &
    pids+=("$!")
done
for i in 0 1; do
    wait "${pids[$i]}" || { echo "demo: a sweep failed; see $OUT/cartoon/sweep.log and $OUT/star/sweep.log" >&2; exit 1; }
done
for domain in cartoon star; do
    printf '\n%s (from %s/%s/sweep.log):\n' "$domain" "$OUT" "$domain"
    sed -n '/^setting /,/^recommended: /p' "$OUT/$domain/sweep.log"
done

say "5. source vs the frozen cartoon fine-tune for the same latents"
TARGET=$OUT/cartoon/g2
# Short names for the commands in README: $OUT/source (the source generator) and $OUT/target
# (the frozen cartoon fine-tune), e.g. `freezeg serve --source runs/demo/source --target runs/demo/target`.
[ -e "$OUT/source" ] || ln -s "$(realpath "$SOURCE")" "$OUT/source"
ln -sfn cartoon/g2 "$OUT/target"
make_once "$OUT/loop.gif" "$FREEZEG" interpolate --source "$SOURCE" --target "$TARGET" --seeds 1,5,9,13 \
    --frames 48 --fps 16 --out "$OUT/loop.gif" & running+=("$!")
make_once "$OUT/mix.png" "$FREEZEG" mix --source "$SOURCE" --target "$TARGET" --content-seeds 0-3 \
    --style-seeds 20-23 --mix-from 16px --out "$OUT/mix.png" & running+=("$!")
{
    make_once "$OUT/blend-swap32.pt" "$FREEZEG" blend --source "$SOURCE" --target "$TARGET" --swap-at 32 \
        --out "$OUT/blend-swap32.pt"
    make_once "$OUT/pairs-blend.png" "$FREEZEG" pairs --source "$SOURCE" --target "$OUT/blend-swap32.pt" \
        --seeds 0-7 --out "$OUT/pairs-blend.png"
} & running+=("$!")
# Translation panels and summary.html from the same projections: rendering only, no second projection.
mkdir -p "$OUT/translate" && cp -rn "$OUT/projection/latents" "$OUT/translate/"
"$FREEZEG" translate "$OUT/data/test-blobs/images" --source "$SOURCE" --target "$TARGET" --out "$OUT/translate" \
    "${PROJECTION[@]}" -q & running+=("$!")
wait_all

say "6. real drawings: $(ls "$EMOJI/openmoji" | wc -l) held-out OpenMoji emoji into Fluent Emoji 3D with the shipped models
   (\`freezeg translate --source emoji --target emoji-fluent3d\`; docs/emoji.md says how they were made)"
wait "$emoji_job" || { cat "$OUT/emoji.log" >&2; echo "demo: the emoji translation failed (above)" >&2; exit 1; }
make_once "$OUT/emoji.png" "$PY" scripts/emoji_gallery.py "$OUT/emoji.png" "OpenMoji (input)=$EMOJI/openmoji" \
    "reconstruction=$OUT/emoji/reconstructions" "translation=$OUT/emoji/translated" "Fluent 3D (truth)=$EMOJI/fluent3d"

say "does freezing help? unseen test scenes vs their ground truth (from $OUT/{cartoon,star}/sweep.csv)"
printf '%-8s %-7s %-16s %12s %9s %8s %12s\n' domain setting "G trains" "truth struct" "truth L1" SWD "src struct"
for domain in cartoon star; do
    awk -F, -v d="$domain" 'NR > 1 { printf "%-8s %-7s %-16s %12.3f %9.1f %8.1f %12.3f\n", d, $1, $4, $12, $13, $9, $10 }' \
        "$OUT/$domain/sweep.csv"
done
echo "(truth: translations of unseen test blobs vs the true renderings of those scenes; higher struct and lower L1"
echo " are closer. source: the untranslated inputs. SWD x1e3: realism against the target images, lower is better."
echo " src struct: structure kept between source and fine-tuned renderings of the same latents.)"
echo "open $OUT/emoji.png, $OUT/cartoon/translations.png, $OUT/star/translations.png, $OUT/cartoon/pairs.png, $OUT/translate/summary.html"
printf 'demo finished in %d min %02d s\n' $(((SECONDS - START) / 60)) $(((SECONDS - START) % 60))
