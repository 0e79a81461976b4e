#!/usr/bin/env bash
# Sets up everything bengal needs on a Debian machine, idempotently:
#   - system packages (apt-get, when running as root; otherwise prints the command to run),
#   - a virtual environment in .venv with bengal installed in editable mode plus test extras.
# Usage: scripts/bootstrap.sh [--bench] [--browser]
#   --bench    also installs the benchmark extras
#   --browser  also installs Chromium and its WebDriver (Debian: chromium, chromium-driver) for
#              the dev server's browser test; the test command passes it
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
PYTHON=${PYTHON:-python3}
EXTRAS="test"
BROWSER=0
for arg in "$@"; do
  case "$arg" in
    --bench) EXTRAS="test,bench" ;;
    --browser) BROWSER=1 ;;
    *) echo "bootstrap: unknown option $arg" >&2; exit 2 ;;
  esac
done

# System packages: the C++ libraries come from Debian, never from a download at build time.
APT_PACKAGES=(
  g++ cmake ninja-build pkg-config
  libmd4c-dev libmd4c-html0-dev libtbb-dev robin-map-dev nlohmann-json3-dev libgtest-dev
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "bootstrap: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >/dev/null
    apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "bootstrap: missing system packages: ${missing[*]}" >&2
    echo "bootstrap: run: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi

# The browser for the dev server's end-to-end test: optional where it cannot be installed (the
# test then skips and says why).
if [ "$BROWSER" = 1 ]; then
  browser_missing=()
  for p in chromium chromium-driver; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || browser_missing+=("$p")
  done
  if [ ${#browser_missing[@]} -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then
      echo "bootstrap: installing ${browser_missing[*]} (browser test)"
      export DEBIAN_FRONTEND=noninteractive
      apt-get update -q >/dev/null
      apt-get install -y -q --no-install-recommends "${browser_missing[@]}" >/dev/null
    else
      echo "bootstrap: warning: ${browser_missing[*]} missing and not root; the browser test" \
        "will be skipped (run: sudo apt-get install ${browser_missing[*]})" >&2
    fi
  fi
fi

# Python environment.
if [ ! -x .venv/bin/python ]; then
  echo "bootstrap: creating .venv"
  if ! "$PYTHON" -m venv .venv 2>/dev/null; then
    if [ "$(id -u)" = 0 ]; then
      apt-get install -y -q python3-venv >/dev/null
      "$PYTHON" -m venv .venv
    else
      echo "bootstrap: '$PYTHON -m venv' failed; install python3-venv" >&2
      exit 1
    fi
  fi
fi
VPY="$ROOT/.venv/bin/python"
# Build requirements first, so the editable install can reuse its build tree (no isolation).
if ! "$VPY" -c "import scikit_build_core, pybind11" 2>/dev/null; then
  "$VPY" -m pip install -q --disable-pip-version-check "scikit-build-core>=0.10" "pybind11>=2.12"
fi
echo "bootstrap: installing bengal (editable, extras: $EXTRAS)"
"$VPY" -m pip install -q --disable-pip-version-check --no-build-isolation -e ".[$EXTRAS]"
"$VPY" -c "import bengal, bengal_native; print('bootstrap: bengal', bengal.__version__, 'ready in .venv')"
