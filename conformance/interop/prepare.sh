#!/bin/sh
# Prepares what the interop suite needs beyond installed packages (run as root; run.sh calls
# it, and scripts/install-deps may): Exim's three packages fetched with `apt-get download`
# into $TERN_INTEROP_CACHE/exim (default /var/cache/tern-interop/exim; never installed,
# because Debian's MTA packages conflict with postfix), and the system user Debian-exim that
# Debian's exim4 binary is built to run as (exim4-base's postinst would create it).
set -eu
CACHE="${TERN_INTEROP_CACHE:-/var/cache/tern-interop}"
mkdir -p "$CACHE/exim"
cd "$CACHE/exim"
for pkg in exim4-daemon-light exim4-base exim4-config; do
  if ! ls "${pkg}"_*.deb >/dev/null 2>&1; then
    apt-get download "$pkg" >/dev/null 2>&1 || {
      echo "$0: apt-get download $pkg failed (run apt-get update?)" >&2
      exit 1
    }
  fi
done
if ! getent passwd Debian-exim >/dev/null; then
  adduser --system --group --quiet --force-badname --home /nonexistent --no-create-home Debian-exim
fi
