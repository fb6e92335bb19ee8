#!/usr/bin/env bash
# Real paired domains for the emoji walk-through: the same emoji drawn by three vendors.
#   source:  OpenMoji 17.0.0 (CC BY-SA 4.0, https://openmoji.org), rasterised from its SVGs
#   targets: Microsoft's Fluent Emoji 3D from @lobehub/fluent-emoji-3d 1.1.0 (MIT), and
#            Apple's set from emoji-datasource-apple 16.0.0 (Apple images (c) Apple Inc.,
#            not licensed for commercial use)
# Needs npm (the packages come from the npm registry) and cairosvg for the SVGs
# (`pip install cairosvg`, which needs the cairo library, Debian's libcairo2; the script
# installs the Python package into the venv it uses when it is missing).
# Writes 64 px RGB PNGs composited on white, named by code point, into
#   $OUT/{openmoji,fluent3d,apple}/{train,test}/CODEPOINTS.png
# with one fixed test split for all three (code points whose SHA-1 falls in the first 10%),
# so the test emoji are never seen in training. Nothing of this data belongs in the repository.
set -euo pipefail
OUT=${1:-runs/emoji/data}
PY=${PYTHON:-.venv/bin/python}
OPENMOJI=openmoji@17.0.0
FLUENT=@lobehub/fluent-emoji-3d@1.1.0
APPLE=emoji-datasource-apple@16.0.0

command -v npm >/dev/null || { echo "fetch_emoji.sh: needs npm (Node.js) to fetch the emoji packages" >&2; exit 2; }
"$PY" -c "import cairosvg" 2>/dev/null || "$PY" -m pip install -q cairosvg
if [ -e "$OUT/done-v2" ]; then echo "have $OUT"; exit 0; fi
if [ -e "$OUT/done" ]; then
    echo "fetch_emoji.sh: $OUT holds the older two-vendor data; choose another folder" >&2; exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "fetching $OPENMOJI, $FLUENT and $APPLE from the npm registry"
(cd "$work" && npm pack --silent "$OPENMOJI" "$FLUENT" "$APPLE" >/dev/null)
mkdir -p "$work/openmoji" "$work/fluent" "$work/apple"
tar xzf "$work"/openmoji-*.tgz -C "$work/openmoji" package/color/svg
tar xzf "$work"/lobehub-fluent-emoji-3d-*.tgz -C "$work/fluent" package/assets
tar xzf "$work"/emoji-datasource-apple-*.tgz -C "$work/apple" package/img/apple/64
"$PY" "$(dirname "$0")/emoji_data.py" --openmoji "$work/openmoji/package/color/svg" \
    --fluent3d "$work/fluent/package/assets" --apple "$work/apple/package/img/apple/64" \
    --size 64 --out "$OUT"
printf '%s\n' "$OPENMOJI" "$FLUENT" "$APPLE" > "$OUT/versions.txt"
touch "$OUT/done-v2"
