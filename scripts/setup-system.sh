#!/usr/bin/env bash
# Installs the Debian packages ckpt builds against, when missing. As root it installs them;
# otherwise it prints the exact command to run and fails.
set -euo pipefail
need=()
for pkg in libopenblas-dev libzstd-dev libsqlite3-dev zlib1g-dev pkg-config; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || need+=("$pkg")
done
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ]; then
  echo "installing: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
else
  echo "error: missing Debian packages; run: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
