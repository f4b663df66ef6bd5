#!/bin/sh
# Black-box tests of a built ternd: run.sh TERND_BINARY. test_ternd receives mail;
# test_hardening replays what an outside probe found (issue 16);
# test_delivery relays it to smtp-sink, stunnel4, another ternd and Dovecot LMTP (packages
# postfix, stunnel4, dovecot-lmtpd); test_mx delivers by MX through a local unbound (package
# unbound) to smtp-sink on 127.0.0.2-4:25 (run as root); test_queue_cli drives `tern queue`
# (the `tern` beside TERND_BINARY, or $TERN). Exit 0 only when every test passes (tests marked
# expectedFailure document known bugs and do not fail the run; an unexpected success does).
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
export TERND
export PYTHONDONTWRITEBYTECODE=1
cd "$(dirname "$0")"
exec python3 -m unittest -v test_ternd test_hardening test_delivery test_mx test_queue_cli
