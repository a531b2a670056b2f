#!/usr/bin/env bash
# claude-sessions installer.
#
#   ./install.sh                 Deno, build, install to ~/.local/bin, service, doctor
#   ./install.sh --no-service    the same without the service
#   ./install.sh --deps-only     ensure Deno and cache dependencies, then stop
#   ./install.sh --uninstall     stop and remove the service and the program
#
# Idempotent: re-running upgrades. Every step says what it does; any failure
# stops with a message and a non-zero exit.
set -euo pipefail

DENO_VERSION="2.9.6"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PREFIX="${HOME:?HOME is not set}/.local"
DEPS_ONLY=0
NO_SERVICE=0
LAUNCHER=0
UNINSTALL=0
PURGE=0
# Deno's own colours would garble the messages we relay.
export NO_COLOR=1

usage() {
  cat <<USAGE
Usage: ./install.sh [--prefix DIR] [--no-service] [--launcher]
       ./install.sh --deps-only
       ./install.sh --uninstall [--prefix DIR] [--purge]

Installs claude-sessions: ensures Deno, builds a single binary (or, where
'deno compile' cannot run, a launcher), installs it to DIR/bin, installs and
starts the user service (systemd or launchd), and runs 'claude-sessions doctor'.
Re-running it upgrades.

  --prefix DIR  install under DIR (default: ~/.local, so ~/.local/bin)
  --no-service  do not install the service; commands start the daemon on demand
  --launcher    install the launcher without trying 'deno compile'
  --deps-only   ensure Deno is installed and cache the project's dependencies
  --uninstall   stop and remove the service and the program; keeps the session
                logs and the daemon's log (everything else in the home goes)
  --purge       with --uninstall: remove the whole claude-sessions home too
  -h, --help    show this help
USAGE
}

while [ $# -gt 0 ]; do
  case "$1" in
  --deps-only) DEPS_ONLY=1 ;;
  --no-service) NO_SERVICE=1 ;;
  --launcher) LAUNCHER=1 ;;
  --uninstall) UNINSTALL=1 ;;
  --purge) PURGE=1 ;;
  --prefix)
    [ $# -ge 2 ] || {
      echo "install.sh: --prefix needs a directory" >&2
      exit 2
    }
    PREFIX="$2"
    shift
    ;;
  --prefix=*) PREFIX="${1#--prefix=}" ;;
  -h | --help)
    usage
    exit 0
    ;;
  *)
    echo "install.sh: unknown option: $1" >&2
    usage >&2
    exit 2
    ;;
  esac
  shift
done

if [ "$PURGE" = 1 ] && [ "$UNINSTALL" = 0 ]; then
  echo "install.sh: --purge goes with --uninstall" >&2
  exit 2
fi
case "$PREFIX" in
/*) ;;
*) PREFIX="$PWD/$PREFIX" ;;
esac
PREFIX="${PREFIX%/}"
BIN_DIR="$PREFIX/bin"
BIN="$BIN_DIR/claude-sessions"
LIB_DIR="$PREFIX/lib/claude-sessions"
HOME_DIR="${CLAUDE_SESSIONS_HOME:-$HOME/.claude-sessions}"

step() { printf '==> %s\n' "$*"; }
note() { printf '    %s\n' "$*"; }
fail() {
  printf 'install.sh: error: %s\n' "$*" >&2
  exit 1
}

# When Deno's output ($2) shows that a step ($1) needed the network and could
# not reach it, stops with one line saying so (and what to do); else returns.
fail_if_offline() {
  local line url
  line="$(printf '%s\n' "$2" | grep -m1 -E 'error sending request|Failed (loading|caching|fetching|downloading)|dns error|tcp connect error|invalid peer certificate|Connection refused' || true)"
  [ -n "$line" ] || return 0
  url="$(printf '%s\n' "$2" | grep -m1 -oE 'https?://[^ )"]+' || true)"
  fail "$1 needs the network${url:+ ($url)}, which cannot be reached from here. Run ./install.sh --deps-only once while online (with this machine's proxy and certificate settings: HTTPS_PROXY, SSL_CERT_FILE, NODE_EXTRA_CA_CERTS…); after that, installing needs no network"
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
        fail "installing Deno needs the npm registry (npm install deno@${DENO_VERSION}) and it failed (npm says why above); install Deno 2.9 yourself (https://deno.com), then re-run"
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

# --- Build -----------------------------------------------------------------
# Sets KIND to "binary" (dist/claude-sessions) or "launcher" (dist/bundle/claude-sessions.js).
KIND=""
# The launcher's bundle directory this install wrote (launcher installs only).
BUNDLE_DIR=""
BUNDLE_VERSION=""
build() {
  mkdir -p "$ROOT/dist"
  if [ "$LAUNCHER" = 0 ]; then
    step "Compiling a single binary (deno compile)"
    local out
    if out="$(cd "$ROOT" && deno task -q compile 2>&1)"; then
      KIND=binary
      return
    fi
    if printf '%s' "$out" | grep -qi denort; then
      step "deno compile cannot get its runtime (denort) here; set DENORT_BIN to use a local one. Installing a launcher instead"
    else
      step "deno compile failed ($(printf '%s\n' "$out" | grep -m1 -i 'error' || printf '%s\n' "$out" | tail -n1)). Installing a launcher instead"
    fi
  fi
  step "Bundling for the launcher (deno bundle)"
  local bout
  if ! bout="$(cd "$ROOT" && deno task -q bundle 2>&1)"; then
    fail_if_offline "deno bundle (its esbuild comes from the npm registry)" "$bout"
    fail "deno bundle failed: $(printf '%s\n' "$bout" | grep -m1 -i 'error' || printf '%s\n' "$bout" | tail -n1)"
  fi
  local v
  v="$(deno run -A --quiet --no-config "$ROOT/dist/bundle/claude-sessions.js" --version)" ||
    fail "the bundle does not run: deno run dist/bundle/claude-sessions.js --version failed"
  note "bundle ok: $v"
  BUNDLE_VERSION="${v##* }"
  KIND=launcher
}

# Replaces $2 with $1 atomically (a running daemon keeps the file it started from).
put() {
  cp "$1" "$2.new" && chmod "$3" "$2.new" && mv -f "$2.new" "$2"
}

install_program() {
  mkdir -p "$BIN_DIR" || fail "cannot create $BIN_DIR"
  if [ "$KIND" = binary ]; then
    step "Installing the binary to $BIN"
    put "$ROOT/dist/claude-sessions" "$BIN" 755 || fail "cannot write $BIN"
  else
    local deno version tmp
    deno="$(deno eval 'console.log(Deno.execPath())')" || fail "cannot locate the deno executable"
    version="$(deno eval 'console.log(Deno.version.deno)')"
    # The bundle is a directory (the program split per command, so that each
    # command loads only what it needs, and the worker threads' entries).
    # Each build goes into its own directory, named by its content: a daemon
    # started from an older one keeps loading its modules from there.
    local id dir
    id="$(cd "$ROOT/dist/bundle" && find . -type f | LC_ALL=C sort | xargs cat | cksum | cut -d' ' -f1)" ||
      fail "cannot read $ROOT/dist/bundle"
    dir="$LIB_DIR/$BUNDLE_VERSION-$id"
    step "Installing the launcher to $BIN (deno $version at $deno, bundle in $dir)"
    mkdir -p "$LIB_DIR" || fail "cannot create $LIB_DIR"
    if [ ! -f "$dir/claude-sessions.js" ]; then
      rm -rf "$dir.new" && cp -R "$ROOT/dist/bundle" "$dir.new" && chmod -R a+rX,go-w "$dir.new" &&
        rm -rf "$dir" && mv "$dir.new" "$dir" || fail "cannot write $dir"
    fi
    tmp="$(mktemp)"
    # Paths are written single-quoted; a quote in them is escaped for sh.
    local q_bin q_deno q_js
    q_bin="'$(printf '%s' "$BIN" | sed "s/'/'\\\\''/g")'"
    q_deno="'$(printf '%s' "$deno" | sed "s/'/'\\\\''/g")'"
    q_js="'$(printf '%s' "$dir/claude-sessions.js" | sed "s/'/'\\\\''/g")'"
    cat >"$tmp" <<LAUNCHER
#!/bin/sh
# claude-sessions launcher, written by install.sh because 'deno compile' was
# not possible. It runs the bundled program on the Deno it was installed with
# (deno $version). Re-run install.sh to upgrade or to get a compiled binary.
deno=$q_deno
if [ ! -x "\$deno" ]; then
  echo "claude-sessions: Deno is gone from \$deno; re-run install.sh from the checkout" >&2
  exit 1
fi
# The program's own absolute path, for the daemon and hook commands; the
# program removes it from its environment at startup.
CLAUDE_SESSIONS_LAUNCHER=$q_bin
export CLAUDE_SESSIONS_LAUNCHER
# No Deno upgrade notices from a command-line tool; removed again at startup.
if [ -z "\${DENO_NO_UPDATE_CHECK:-}" ]; then
  DENO_NO_UPDATE_CHECK=1
  CLAUDE_SESSIONS_LAUNCHER_UNSET=DENO_NO_UPDATE_CHECK
  export DENO_NO_UPDATE_CHECK CLAUDE_SESSIONS_LAUNCHER_UNSET
fi
exec "\$deno" run -A --quiet --no-config $q_js "\$@"
LAUNCHER
    put "$tmp" "$BIN" 755 || fail "cannot write $BIN"
    rm -f "$tmp"
    BUNDLE_DIR="$dir"
  fi
  "$BIN" --version >/dev/null || fail "$BIN does not run"
  note "$("$BIN" --version)"
  # Not this script's PATH (it may have put ~/.local/bin there itself): what a
  # new terminal's login shell finds. doctor's check asks one.
  local path_check
  if ! path_check="$("$BIN" doctor --only path 2>&1)"; then
    step "Warning: a new terminal will not run this claude-sessions"
    printf '%s\n' "$path_check" | grep -E '^(✗|[[:space:]]+fix:)' | sed -E 's/^✗ on PATH +//; s/^[[:space:]]+//' |
      while IFS= read -r l; do note "$l"; done
  fi
}

install_service() {
  if [ "$NO_SERVICE" = 1 ]; then
    step "Skipping the service (--no-service): commands start the daemon on demand"
    # As 'service install' does: an idle daemon of the old version makes way.
    "$BIN" stop-daemon --if-outdated | sed 's/^/    /' ||
      fail "could not check the running daemon (see above)"
    return
  fi
  step "Installing the service"
  # Prints the fallback itself where there is no service manager.
  "$BIN" service install | sed 's/^/    /' || fail "the service could not be installed (see above)"
}

# Pids of running daemons (any home) started from the launcher's bundle
# file $2, in the process list $1.
launcher_daemons() {
  JS="$2 daemon" awk 'index($0, ENVIRON["JS"]) { printf "%s%s", sep, $1; sep = " " }' <<<"$1"
}

# The launcher's bundles go, except the one just installed (none after a
# binary install) and any a running daemon was started from: such a daemon
# loads its modules and worker threads (screen model, log compression) from
# its bundle as it needs them, so removing them under it would break it.
# Bundles are directories under $LIB_DIR; an older install's were files in it.
prune_bundles() {
  [ -d "$LIB_DIR" ] || return 0
  local procs="" nops="" entry js pids
  procs="$(ps -A -ww -o pid= -o args= 2>/dev/null)" || {
    procs=""
    ! "$BIN" status >/dev/null 2>&1 ||
      nops="a daemon runs, and without ps there is no telling whether it was started from the launcher"
  }
  for entry in "$LIB_DIR"/*; do
    case "$entry" in
    "$BUNDLE_DIR" | "$LIB_DIR/*") continue ;;
    "$LIB_DIR"/claude-sessions*.js)
      # An older install's bundle: claude-sessions.js and its workers' files.
      [ "$entry" = "$LIB_DIR/claude-sessions.js" ] || continue
      js="$entry"
      ;;
    *) js="$entry/claude-sessions.js" ;;
    esac
    pids="$(launcher_daemons "$procs" "$js")"
    if [ -n "$pids$nops" ]; then
      step "Keeping the launcher's bundles in ${js%/claude-sessions.js}: ${nops:-a daemon started from the launcher (pid $pids) still runs and loads its modules from there}"
      note "the next install removes them once it has stopped (claude-sessions service restart stops it)"
    elif [ "$js" = "$entry" ]; then
      rm -f "$LIB_DIR"/claude-sessions*.js
    else
      rm -rf "$entry"
    fi
  done
  rmdir "$LIB_DIR" 2>/dev/null || true
}

# --- Uninstall --------------------------------------------------------------
uninstall() {
  local run=()
  if [ -x "$BIN" ] && "$BIN" --version >/dev/null 2>&1; then
    run=("$BIN")
  elif command -v deno >/dev/null 2>&1; then
    run=(deno run -A --quiet "$ROOT/src/main.ts")
  fi
  if [ ${#run[@]} -gt 0 ]; then
    step "Removing the service"
    "${run[@]}" service uninstall | sed 's/^/    /' || fail "the service could not be removed (see above)"
    step "Stopping the daemon"
    "${run[@]}" stop-daemon | sed 's/^/    /' || fail "the daemon could not be stopped (see above)"
  else
    step "Warning: neither $BIN nor Deno runs; cannot stop the service or the daemon"
  fi
  step "Removing $BIN"
  rm -f "$BIN" "$BIN.new"
  rm -rf "$LIB_DIR"
  if [ -d "$HOME_DIR" ]; then
    if [ "$PURGE" = 1 ]; then
      step "Removing $HOME_DIR (--purge)"
      rm -rf "$HOME_DIR"
    else
      step "Removing $HOME_DIR except the logs"
      find "$HOME_DIR" -mindepth 1 -maxdepth 1 ! -name logs ! -name 'daemon.log*' -exec rm -rf {} +
      note "kept: $HOME_DIR/logs (session logs) and daemon.log; --purge removes them"
    fi
  fi
  step "claude-sessions is uninstalled (Deno stays installed)"
}

# --- Main -------------------------------------------------------------------
if [ "$UNINSTALL" = 1 ]; then
  uninstall
  exit 0
fi

ensure_deno

# Everything any later step needs from the network is fetched here, so that
# after `--deps-only` building, installing and the tests run offline.
cache_deps() {
  step "Caching dependencies"
  local out entries=()
  if ! out="$(cd "$ROOT" && deno install --frozen 2>&1)"; then
    fail_if_offline "Caching the npm packages (deno install)" "$out"
    fail "could not cache dependencies (deno install): $(printf '%s\n' "$out" | tail -n1)"
  fi
  # Every entry point: the CLI, the daemon and its worker threads (loaded by
  # URL, so not in the CLI's graph), and the tests and benchmarks.
  while IFS= read -r f; do entries+=("$f"); done < <(cd "$ROOT" && find src test bench -name '*.ts' 2>/dev/null | sort)
  if ! out="$(cd "$ROOT" && deno cache --frozen "${entries[@]}" 2>&1)"; then
    fail_if_offline "Caching the modules (deno cache)" "$out"
    fail "could not cache dependencies (deno cache): $(printf '%s\n' "$out" | grep -m1 -i error || printf '%s\n' "$out" | tail -n1)"
  fi
  # deno bundle runs esbuild, which Deno fetches from the npm registry on
  # first use: bundle something small once, so the launcher fallback can be
  # built offline.
  local tmp
  tmp="$(mktemp -d)"
  if ! out="$(cd "$ROOT" && deno bundle --quiet --platform deno --output "$tmp/probe.js" src/version.ts 2>&1)"; then
    rm -rf "$tmp"
    fail_if_offline "Caching the bundler (deno bundle's esbuild)" "$out"
    fail "deno bundle failed: $(printf '%s\n' "$out" | grep -m1 -i error || printf '%s\n' "$out" | tail -n1)"
  fi
  rm -rf "$tmp"
}

cache_deps
if [ "$DEPS_ONLY" = 1 ]; then
  step "Dependencies ready (--deps-only: stopping here); building and installing now need no network"
  exit 0
fi

build
install_program
install_service
prune_bundles

step "Checking the install (claude-sessions doctor)"
if "$BIN" doctor; then
  step "Done: claude-sessions $("$BIN" --version | cut -d' ' -f2) is installed as $BIN"
else
  step "Installed as $BIN, but doctor found problems: see the ✗ lines above"
fi
