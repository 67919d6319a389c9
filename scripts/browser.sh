#!/usr/bin/env bash
# Install the browser the end-to-end tests drive: Debian's Chromium (/usr/bin/chromium), which
# Playwright (Python, from the test extra) launches with executable_path. Playwright's own browser
# download (`playwright install`) is never used. Idempotent: nothing happens when it is there.
set -euo pipefail

log() { printf 'browser: %s\n' "$*" >&2; }

if [ -x /usr/bin/chromium ]; then exit 0; fi
command -v apt-get >/dev/null || { log "no /usr/bin/chromium and no apt-get: install Chromium yourself"; exit 1; }
log "installing Debian's chromium"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >/dev/null
[ -x /usr/bin/chromium ] || { log "chromium installed but /usr/bin/chromium is missing"; exit 1; }
log "ready: $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
