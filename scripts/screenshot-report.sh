#!/usr/bin/env bash
# Screenshot an HTML report as a phone would show it (headless Chromium,
# Debian's `chromium` package), to look at by hand:
#
#   scripts/screenshot-report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]
#
# Default size 412x2400 (a phone's width, tall enough for the whole page).
set -euo pipefail
html=${1:?usage: scripts/screenshot-report.sh REPORT.html [OUT.png] [WIDTHxHEIGHT]}
out=${2:-${html%.html}.png}
size=${3:-412x2400}
chromium=$(command -v chromium || command -v chromium-browser || true)
if [ -z "$chromium" ]; then
    echo "chromium is not installed: apt-get install -y chromium" >&2
    exit 1
fi
profile=$(mktemp -d)
trap 'rm -rf "$profile"' EXIT
"$chromium" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
    --disable-background-networking --disable-component-update --disable-sync \
    --hide-scrollbars --user-data-dir="$profile" \
    --window-size="${size/x/,}" --screenshot="$(realpath -m "$out")" \
    "file://$(realpath "$html")" 2>/dev/null
echo "$out"
