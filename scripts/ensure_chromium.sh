#!/usr/bin/env bash
# Install Chromium from the system packages if no Chromium / Chrome is on PATH: the browser
# tests of the HTML plots (tests/plots/test_html_browser.py) open them in it. Debian / Ubuntu
# (apt-get) only; elsewhere it says what to install and exits 1. Run as root or with sudo.
set -euo pipefail

for name in chromium chromium-browser google-chrome google-chrome-stable; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "ensure_chromium: found $(command -v "$name")"
        exit 0
    fi
done

if ! command -v apt-get >/dev/null 2>&1; then
    echo "ensure_chromium: no Chromium on PATH and no apt-get here; install Chromium" \
        "(the browser tests need a 'chromium' binary)" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then
    sudo="sudo"
fi
# Debian names the package chromium; Ubuntu's chromium-browser is a snap shim, so try both.
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends chromium \
    || $sudo apt-get install -y -qq --no-install-recommends chromium-browser
for name in chromium chromium-browser; do
    if command -v "$name" >/dev/null 2>&1; then
        echo "ensure_chromium: installed $(command -v "$name")"
        exit 0
    fi
done
echo "ensure_chromium: the install ran but no chromium binary is on PATH" >&2
exit 1
