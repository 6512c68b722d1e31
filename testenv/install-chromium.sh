#!/usr/bin/env bash
# Installs Debian's chromium, the headless browser the dashboard's browser tests drive (dashboard/, chromedp).
# Without recommends: the tests need the browser only, not its desktop integration. make test runs this when
# chromium is missing, so CI on a fresh clone has it.
set -euo pipefail
if command -v chromium >/dev/null; then exit 0; fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing chromium (Debian package), for the dashboard's browser tests" >&2
install() { $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null 2>&1; }
install || { $sudo apt-get update -qq >/dev/null && install; }
command -v chromium >/dev/null
