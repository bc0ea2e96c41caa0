# Sourced by the browser tests: exit 77 (skipped) without chromium, node or
# playwright-core (npm ci in tests/web), unless ASTROFM_REQUIRE_BROWSER=1 (CI).
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if ! command -v chromium >/dev/null || [ ! -d "$HERE/node_modules/playwright-core" ] || ! command -v node >/dev/null; then
  if [ "${ASTROFM_REQUIRE_BROWSER:-0}" = 1 ]; then echo "$(basename "$0"): chromium, node or playwright-core missing" >&2; exit 1; fi
  echo "$(basename "$0"): skipped (needs chromium, node and npm ci in tests/web)"; exit 77
fi
