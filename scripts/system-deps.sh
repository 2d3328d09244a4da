#!/usr/bin/env bash
# Installs the Debian packages listed in debian-packages.txt (and python3-venv when
# the interpreter cannot make a virtualenv). As root it runs apt-get; otherwise it
# prints the one command an administrator has to run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
python="${1:-python3}"

wanted=$(grep -v -E '^\s*(#|$)' "$here/debian-packages.txt")
if ! "$python" -c 'import ensurepip, venv' 2>/dev/null; then
    wanted="$wanted python3-venv"
fi

missing=""
for pkg in $wanted; do
    if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $pkg"
    fi
done
if [ -z "$missing" ]; then
    exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "signroom needs these Debian packages; run as root:" >&2
    echo "    apt-get update && apt-get install -y --no-install-recommends$missing" >&2
    exit 1
fi
echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -q
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing
