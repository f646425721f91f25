# Sourced by scripts/test and scripts/demo: installs what the project needs, idempotently.
# Needs only python3 (3.11+) and node/npm on PATH.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"
CACHE="$ROOT/.cache"
COMPAT_NODE_MAJOR="${CDPCLIENT_COMPAT_NODE_MAJOR:-22}"

ensure_venv() {
  local stamp="$VENV/.installed" want
  want="$(cat "$ROOT/pyproject.toml" | sha256sum | cut -c1-16)"
  if [ ! -x "$VENV/bin/python" ]; then
    echo "setup: creating $VENV" >&2
    python3 -m venv "$VENV"
  fi
  if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
    echo "setup: installing cdpclient and its dependencies into .venv" >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[test]" 2>&1 \
      | grep -v "^WARNING: Location" >&2 || true
    "$VENV/bin/python" -c "import cdpclient, cdpclient_cli.app" || { echo "setup: install failed" >&2; exit 1; }
    echo "$want" > "$stamp"
  fi
}

# Prints the path of a node binary of another major, from the npm registry's node-linux-* packages.
ensure_compat_node() {
  local arch dir bin
  case "$(uname -m)" in x86_64) arch=x64 ;; aarch64|arm64) arch=arm64 ;; *) return 1 ;; esac
  dir="$CACHE/node-$COMPAT_NODE_MAJOR"
  bin="$dir/node_modules/node-linux-$arch/bin/node"
  if [ ! -x "$bin" ]; then
    echo "setup: installing Node $COMPAT_NODE_MAJOR (npm package node-linux-$arch) into $dir" >&2
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error \
      "node-linux-$arch@$COMPAT_NODE_MAJOR" >&2
  fi
  "$bin" --version >/dev/null
  echo "$bin"
}

# Debian's Chromium, for the test that runs a flame graph's script in a real browser (it skips without
# one). Installed only where apt-get can (root); never fatal: the rest of the suite does not need it.
ensure_chromium() {
  command -v chromium >/dev/null 2>&1 && return 0
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "setup: installing Chromium (Debian package chromium) for the flame graph browser test" >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null 2>&1 \
      || echo "setup: could not install Chromium; its test will be skipped" >&2
  fi
  return 0
}
