#!/usr/bin/env bash
# Headless Chromium for the browser tests (tests/ui): Debian's `chromium` and `chromium-driver`.
# `scripts/chromium.sh ensure` installs them with apt when either is missing (as root), and fails
# clearly when it cannot; Selenium then uses this chromedriver and never downloads one.
set -euo pipefail

ensure() {
  if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then
    echo "chromium: $(chromium --version 2>/dev/null | head -1); chromedriver: $(chromedriver --version | head -1)"
    return
  fi
  local sudo=()
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "chromium/chromedriver missing and not root: run as root: apt-get install -y --no-install-recommends chromium chromium-driver" >&2; exit 1; }
    sudo=(sudo)
  fi
  echo "==> installing chromium and chromium-driver with apt (Debian packages)"
  echo "+ apt-get update"
  "${sudo[@]}" apt-get update -q || { echo "apt-get update failed: cannot install chromium" >&2; exit 1; }
  echo "+ apt-get install -y --no-install-recommends chromium chromium-driver"
  DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -q --no-install-recommends chromium chromium-driver \
    || { echo "apt-get install chromium chromium-driver failed" >&2; exit 1; }
  command -v chromium >/dev/null && command -v chromedriver >/dev/null \
    || { echo "chromium or chromedriver still missing after apt-get install" >&2; exit 1; }
  echo "chromium: $(chromium --version 2>/dev/null | head -1); chromedriver: $(chromedriver --version | head -1)"
}

case "${1:-ensure}" in
  ensure) ensure ;;
  *) echo "usage: $0 ensure" >&2; exit 2 ;;
esac
