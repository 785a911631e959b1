# Shared by the browser interop scripts (sourced, not run): what a browser
# test needs installed, and a polite stop for the server under test.

browser_sudo() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

# Installs Debian's Chromium, Node and npm, and playwright-core and axe-core
# in tests/browser (from its lockfile), whichever is missing.
install_browser_deps() {
  local browser_dir="$1" missing=()
  [ -x /usr/bin/chromium ] || missing+=(chromium)
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
  if [ "${#missing[@]}" -gt 0 ]; then
    printf '[browser] installing %s (Debian packages)\n' "${missing[*]}" >&2
    browser_sudo apt-get update
    browser_sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y "${missing[@]}"
  fi
  if [ ! -f "$browser_dir/node_modules/playwright-core/package.json" ] ||
     [ ! -f "$browser_dir/node_modules/axe-core/package.json" ]; then
    printf '[browser] installing playwright-core and axe-core in %s\n' "$browser_dir" >&2
    if [ -f "$browser_dir/package-lock.json" ]; then
      (cd "$browser_dir" && npm ci --no-audit --no-fund)
    else
      (cd "$browser_dir" && npm install --no-audit --no-fund)
    fi
  fi
}

# Stops process $1: SIGTERM, up to 5 s to finish, then SIGKILL.
stop_server() {
  local pid="$1"
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# Waits up to $3 seconds (default 60) until URL $2 answers (with a body of
# exactly $4, when given) while process $1 runs. Fails otherwise.
wait_for_server() {
  local pid="$1" url="$2" seconds="${3:-60}" expect="${4:-}" body
  for _ in $(seq 1 $((seconds * 2))); do
    if ! kill -0 "$pid" 2>/dev/null; then
      printf '[browser] the server exited before it answered\n' >&2
      return 1
    fi
    if body="$(curl -fsS --max-time 2 "$url" 2>/dev/null)" && { [ -z "$expect" ] || [ "$body" = "$expect" ]; }; then
      return 0
    fi
    sleep 0.5
  done
  printf '[browser] %s did not answer within %s s\n' "$url" "$seconds" >&2
  return 1
}
