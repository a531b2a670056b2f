#!/usr/bin/env bash
# claude-sessions installer.
#
#   ./install.sh --deps-only   ensure Deno and cache dependencies, then stop
#
# Idempotent: re-running upgrades. Every step says what it does; any failure
# stops with a message and a non-zero exit.
set -euo pipefail

DENO_VERSION="2.9.6"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DEPS_ONLY=0

usage() {
  cat <<USAGE
Usage: ./install.sh [--deps-only]

  --deps-only   ensure Deno is installed and cache the project's dependencies
  -h, --help    show this help
USAGE
}

for arg in "$@"; do
  case "$arg" in
  --deps-only) DEPS_ONLY=1 ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    echo "install.sh: unknown option: $arg" >&2
    usage >&2
    exit 2
    ;;
  esac
done

step() { printf '==> %s\n' "$*"; }
fail() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}

# --- Deno ------------------------------------------------------------------
ensure_deno() {
  if command -v deno >/dev/null 2>&1; then
    step "Deno found: $(deno --version | head -n1)"
    return
  fi
  if [ -x "$HOME/.local/bin/deno" ]; then
    export PATH="$HOME/.local/bin:$PATH"
    step "Deno found: $(deno --version | head -n1)"
    return
  fi
  if [ "$(uname -s)" = Darwin ] && command -v brew >/dev/null 2>&1; then
    step "Installing Deno with Homebrew"
    brew install deno || fail "brew install deno failed"
  elif command -v npm >/dev/null 2>&1; then
    step "Installing Deno ${DENO_VERSION} from npm"
    if ! npm install --global --no-fund --no-audit "deno@${DENO_VERSION}" >/dev/null 2>&1; then
      # No permission for the global prefix: install under ~/.local instead.
      step "Global npm install not permitted; installing under ~/.local"
      npm install --global --prefix "$HOME/.local" --no-fund --no-audit "deno@${DENO_VERSION}" >/dev/null ||
        fail "npm install of deno failed"
      export PATH="$HOME/.local/bin:$PATH"
    fi
  elif command -v curl >/dev/null 2>&1; then
    step "Installing Deno with the official installer"
    curl -fsSL https://deno.land/install.sh | sh -s -- -y "v${DENO_VERSION}" ||
      fail "the official Deno installer failed"
    export PATH="$HOME/.deno/bin:$PATH"
  else
    fail "Deno is not installed and neither Homebrew, npm nor curl is available to install it"
  fi
  command -v deno >/dev/null 2>&1 || fail "Deno was installed but is not on PATH"
  step "Deno installed: $(deno --version | head -n1)"
}

ensure_deno

step "Caching dependencies"
(cd "$ROOT" && deno install --frozen >/dev/null) || fail "could not cache dependencies (deno install)"
(cd "$ROOT" && deno cache --frozen src/main.ts src/daemon/main.ts >/dev/null) ||
  fail "could not cache dependencies (deno cache)"

if [ "$DEPS_ONLY" = 1 ]; then
  step "Dependencies ready (--deps-only: stopping here)"
  exit 0
fi

step "Nothing more to install yet: run it from the checkout with"
echo "    deno run -A $ROOT/src/main.ts --help"
