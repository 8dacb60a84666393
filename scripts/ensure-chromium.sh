#!/usr/bin/env bash
# Finds the Chromium the browser tests drive (test/helpers/browser.ts resolves it the same way) and prints its path.
# Order: $CHROMIUM_PATH, then chromium, chromium-browser, google-chrome on PATH, then /usr/bin/chromium.
# When none is there: as root on Debian/Ubuntu, installs Debian's `chromium` package with apt-get; otherwise prints
# what to run and exits 1. Never downloads a browser any other way (no Playwright/Puppeteer browser downloads).
set -euo pipefail

find_chromium() {
  if [ -n "${CHROMIUM_PATH:-}" ]; then
    if [ -x "$CHROMIUM_PATH" ]; then echo "$CHROMIUM_PATH"; return 0; fi
    echo "CHROMIUM_PATH=$CHROMIUM_PATH is not an executable file" >&2
    return 1
  fi
  local name
  for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
  done
  if [ -x /usr/bin/chromium ]; then echo /usr/bin/chromium; return 0; fi
  return 1
}

if path="$(find_chromium)"; then
  echo "$path"
  exit 0
fi
# A CHROMIUM_PATH that points nowhere is a mistake to fix, not a reason to install something else.
[ -n "${CHROMIUM_PATH:-}" ] && exit 1

is_debian_like() {
  [ -r /etc/os-release ] && grep -qiE '^(ID|ID_LIKE)=.*(debian|ubuntu)' /etc/os-release && command -v apt-get >/dev/null 2>&1
}

if [ "$(id -u)" -eq 0 ] && is_debian_like; then
  echo "Chromium is missing: installing Debian's chromium package with apt-get…" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Quiet: apt's output goes to a log that is shown only when it fails. fonts-liberation (a Recommends of chromium
  # that --no-install-recommends skips) gives screenshots readable text on images that ship no fonts.
  log="$(mktemp)"
  if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends chromium fonts-liberation; } >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "apt-get could not install chromium (output above)" >&2
    exit 1
  fi
  rm -f "$log"
  if path="$(find_chromium)"; then
    echo "$path"
    exit 0
  fi
  echo "apt-get installed chromium but no chromium executable was found afterwards" >&2
  exit 1
fi

cat >&2 <<'EOF'
The browser tests need Chromium, and none was found (looked at $CHROMIUM_PATH, chromium, chromium-browser,
google-chrome on PATH, and /usr/bin/chromium).
Install it, then run the tests again:
  Debian/Ubuntu:  sudo apt-get update && sudo apt-get install -y chromium
  elsewhere:      install Chromium or Chrome with your package manager and set CHROMIUM_PATH=/path/to/chromium
EOF
exit 1
