#!/usr/bin/env bash
# Builds examples/showcase and takes the screenshots kept in docs/static/screenshots/ with
# headless Chromium (Debian package `chromium`), served from a loopback HTTP server.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v chromium >/dev/null || { echo "install chromium: apt-get install chromium" >&2; exit 1; }
out=$(mktemp -d)
trap 'kill "$server" 2>/dev/null; rm -rf "$out"' EXIT
.venv/bin/bengal build examples/showcase -o "$out/public" -q
port=$(.venv/bin/python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
.venv/bin/python -m http.server "$port" --bind 127.0.0.1 --directory "$out/public" >/dev/null 2>&1 &
server=$!
sleep 1
shot() {  # name, size, path, extra flags
  timeout 60 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars --window-size="$2" \
    ${4:-} --screenshot="docs/static/screenshots/$1.png" "http://127.0.0.1:$port$3" 2>/dev/null
}
shot showcase-home 1280,1100 /
shot showcase-docs-light 1280,1000 /docs/getting-started/
shot showcase-docs-dark 1280,1400 /docs/writing-content/ "--force-dark-mode --blink-settings=preferredColorScheme=0"
shot showcase-mobile 400,900 /blog/why-a-native-core/
ls -la docs/static/screenshots
