#!/bin/sh
# Interop tests of a built ternd against real MTAs and clients: run.sh TERND_BINARY.
# test_postfix: a throwaway Postfix instance (package postfix) relays to ternd and ternd to
# it (STARTTLS, PIPELINING, 8BITMIME, SMTPUTF8, DSN round trips); test_exim: the same with
# Exim (exim4-daemon-light/-base/-config fetched by prepare.sh with `apt-get download`,
# unpacked with dpkg -x, never installed); test_clients: swaks, smtplib, msmtp (packages
# swaks, msmtp) submit with STARTTLS and AUTH. Run as root (Postfix's and Exim's daemons
# drop privileges). Everything listens on 127.0.0.1 only and every daemon is stopped by its
# pid. Exit 0 only when every test passes (expectedFailure marks a known ternd bug, "BUG:").
# Set BLACKBOX_KEEP=1 to keep the temporary folders for inspection.
set -eu
if [ $# -ne 1 ]; then
  echo "usage: $0 TERND_BINARY" >&2
  exit 64
fi
case "$1" in
  /*) TERND="$1" ;;
  *) TERND="$(pwd)/$1" ;;
esac
if [ ! -x "$TERND" ]; then
  echo "$0: $TERND is not an executable" >&2
  exit 64
fi
for tool in /usr/sbin/postfix /usr/sbin/sendmail /usr/bin/swaks /usr/bin/msmtp /usr/bin/dpkg; do
  if [ ! -x "$tool" ]; then
    echo "$0: $tool is missing (scripts/install-deps installs it)" >&2
    exit 1
  fi
done
if [ "$(id -u)" -ne 0 ]; then
  echo "$0: run as root (Postfix and Exim instances drop privileges)" >&2
  exit 1
fi
HERE="$(cd "$(dirname "$0")" && pwd)"
"$HERE/prepare.sh"
export TERND
export PYTHONDONTWRITEBYTECODE=1
cd "$HERE"
exec python3 -m unittest -v test_postfix test_exim test_clients
