#!/usr/bin/env bash
# Renders the README's dashboard pictures (Dashboards/images/*.png) from real data: builds the
# examples, then Dashboards/render --start runs them under load for MINUTES minutes with a
# Prometheus scraping them (Dashboards/environment.py) and draws every dashboard.
#
# Usage: Scripts/render-dashboards.sh [minutes]     (needs matplotlib: pip install matplotlib)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
swift build --product addsvc >/dev/null
swift build --product addcli >/dev/null
swift build --product apigateway >/dev/null
python3 Dashboards/render --start "$(swift build --show-bin-path)" --minutes "${1:-6}"
