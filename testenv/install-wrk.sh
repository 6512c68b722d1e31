#!/usr/bin/env bash
# Installs wrk, the HTTP load generator of the reads benchmark, from Debian's packages.
set -euo pipefail
if command -v wrk >/dev/null; then exit 0; fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing wrk (Debian package)" >&2
$sudo apt-get install -y -qq wrk >/dev/null 2>&1 || { $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq wrk >/dev/null; }
command -v wrk >/dev/null
