#!/usr/bin/env bash
# Installs the system packages workbench builds against, when any is missing (Debian/Ubuntu, as root
# or with sudo). Swift itself (6.0 or later) must already be on PATH.
#   usage: scripts/bootstrap.sh
set -euo pipefail
say() { echo "bootstrap: $*"; }
command -v swift >/dev/null 2>&1 || { echo "bootstrap: error: swift is not on PATH; install a Swift 6 toolchain from swift.org first" >&2; exit 69; }
need=()
for pkg in libgit2-dev libssl-dev libsqlite3-dev libcurl4-openssl-dev pkg-config git; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
if ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1 && ! command -v python3.11 >/dev/null 2>&1; then need+=(python3-venv); fi
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  say "installing ${need[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
say "system packages present"
