#!/usr/bin/env bash
# Browser and protocol checks of the dev-mode server:
#   1. web/vendor/ still matches the GraphiQL and React tarballs pinned in
#      web/package-lock.json (web/update-assets.sh --check);
#   2. the Playwright flow (e2e/flow.test.mjs): demo page, admin-approval
#      wall, Connect, consent on the emulator's page, colleague search, test
#      message, Disconnect, and a query in GraphiQL, in Debian's Chromium
#      headless with every request to another origin blocked;
#   3. the graphql-http server audit of /graphql (e2e/audit.test.mjs): every
#      MUST passes, and every failing SHOULD is listed in the README.
# It builds and starts the server on a free loopback port with a temporary
# data folder and SQLite database, and stops it at the end. Screenshots, the
# audit results and the server log go to e2e/artifacts/.
#
# In CI (CI=true) it installs Debian's chromium when absent. Elsewhere it
# skips, with a message, when /usr/bin/chromium is absent.
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="/usr/local/go/bin:$PATH"
CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
ARTIFACTS="$PWD/e2e/artifacts"

if [ ! -x "$CHROMIUM_PATH" ]; then
  if [ "${CI:-}" != "true" ]; then
    echo "browser: SKIPPED: no Chromium at $CHROMIUM_PATH. Install it with 'apt-get install chromium'" \
      "(or set CHROMIUM_PATH) to run the browser test and the GraphQL over HTTP audit; CI always runs them."
    exit 0
  fi
  echo "browser: installing Debian's chromium package"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "browser: node $(node --version) is too old; playwright-core needs node 20 or later" >&2
  exit 1
fi

echo "browser: checking web/vendor/ against web/package-lock.json"
web/update-assets.sh --check

echo "browser: npm ci in e2e/"
(cd e2e && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error)

work=$(mktemp -d)
server_pid=""
stop_server() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
  fi
  rm -rf "$work"
}
trap stop_server EXIT

echo "browser: building the server"
go build -o "$work/wintro-teams" .

port=$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')
base_url="http://127.0.0.1:$port"
rm -rf "$ARTIFACTS"
mkdir -p "$ARTIFACTS" "$work/data"

# A clean environment keeps the server in dev mode whatever the caller's
# environment contains (WINTRO_MS_CLIENT_ID or WINTRO_ENV would turn it off).
env -i PATH="$PATH" HOME="$HOME" \
  WINTRO_LISTEN_ADDR="127.0.0.1:$port" \
  WINTRO_PUBLIC_URL="$base_url" \
  WINTRO_DATA_DIR="$work/data" \
  DATABASE_URL="sqlite:$work/data/wintro-teams.db" \
  "$work/wintro-teams" serve >"$ARTIFACTS/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 60); do
  if curl -fsS -o /dev/null "$base_url/readyz" 2>/dev/null; then break; fi
  if ! kill -0 "$server_pid" 2>/dev/null; then
    echo "browser: the server exited at start; its log:" >&2
    cat "$ARTIFACTS/server.log" >&2
    exit 1
  fi
  sleep 0.5
done
if ! curl -fsS -o /dev/null "$base_url/readyz"; then
  echo "browser: the server at $base_url did not become ready in 30 s; its log:" >&2
  tail -n 50 "$ARTIFACTS/server.log" >&2
  exit 1
fi
echo "browser: server ready at $base_url"

status=0
(cd e2e && WINTRO_E2E_URL="$base_url" CHROMIUM_PATH="$CHROMIUM_PATH" E2E_ARTIFACTS="$ARTIFACTS" \
  node --test --test-concurrency=1 flow.test.mjs audit.test.mjs) || status=$?

if [ "$status" -ne 0 ]; then
  echo "browser: FAILED; screenshots and the server log are in $ARTIFACTS; last server log lines:" >&2
  tail -n 30 "$ARTIFACTS/server.log" >&2
  exit "$status"
fi
echo "browser: passed; screenshots and audit results are in $ARTIFACTS"
