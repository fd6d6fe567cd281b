#!/usr/bin/env bash
# Render an HTML report in headless Chromium and save a PNG screenshot.
#
#   scripts/screenshot_report.sh RUN_DIR/report.html [OUT.png] [WIDTHxHEIGHT]
#
# Needs Debian's `chromium` (apt-get install -y chromium). The report is opened from file://
# with networking features off, which also shows that it needs no server and no network.
set -euo pipefail

report="${1:?usage: $0 REPORT.html [OUT.png] [WIDTHxHEIGHT]}"
out="${2:-/tmp/report.png}"
size="${3:-1280x2000}"
browser="$(command -v chromium || command -v chromium-browser || true)"
if [[ -z "$browser" ]]; then
    echo "chromium not found: apt-get install -y chromium" >&2
    exit 2
fi
if [[ ! -f "$report" ]]; then
    echo "report $report not found (emu2-eval report RUN_DIR writes RUN_DIR/report.html)" >&2
    exit 2
fi
profile="$(mktemp -d)"
trap 'rm -rf "$profile"' EXIT
sandbox=()
if [[ "$(id -u)" == "0" ]]; then
    sandbox=(--no-sandbox)  # Chromium refuses to run as root with its sandbox
fi
"$browser" --headless "${sandbox[@]}" --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --hide-scrollbars \
    --user-data-dir="$profile" --screenshot="$out" --window-size="${size/x/,}" \
    "file://$(realpath "$report")" >/dev/null 2>&1
test -s "$out"
echo "$out"
