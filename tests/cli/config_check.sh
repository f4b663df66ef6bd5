#!/usr/bin/env bash
# Black-box test of `tern config check` and `ternd --config`: exit status 2 and one
# FILE:LINE:COL: message line per problem; 0 and a summary for a valid file; ternd on the
# embedded default starts and stops cleanly on SIGTERM.
set -uo pipefail
tern=${1:?tern binary}
ternd=${2:?ternd binary}
source "$(dirname "$0")/expect.sh"
cd "$(dirname "$0")/fixtures"

# valid.toml is the relay-host example without its MTA-STS/DANE note: valid, with a warning.
expect "valid file" 0 \
  "valid.toml:2:12: warning: every recipient is relayed (remote 'relay'), but queue.outbound.tls.mta-sts and queue.outbound.tls.dane are not both \"disable\"; set them to \"disable\" as the relay-host example does (they apply to DNS MX delivery only)
valid.toml: ok (6 keys set, 0 listeners, 1 remote hosts, 0 directories, 1 warnings)" \
  -- "$tern" config check valid.toml

expect "syntax error" 2 \
  "syntax-error.toml:2:29: syntax error: Error while parsing string: unescaped control characters other than TAB (U+0009) are explicitly prohibited" \
  -- "$tern" config check syntax-error.toml

problems="problems.toml:1:1: missing required key 'remote.relay.address' (Host name or IP address of the remote SMTP or LMTP server)
problems.toml:2:1: unknown key 'remote.relay.adress' (did you mean 'remote.relay.address'?)
problems.toml:8:1: missing required key 'directory.imap.type' (Kind of directory)"
expect "unknown and missing keys" 2 "$problems" -- "$tern" config check problems.toml
expect "ternd refuses the same file" 2 "$problems" -- "$ternd" --config problems.toml
expect "missing file" 2 "nope.toml: cannot read configuration file: No such file or directory" \
  -- "$tern" config check nope.toml
expect "usage" 64 "tern: unknown or incomplete 'config' command
usage: tern config check FILE
       tern config reference
       tern config default
       tern route --config FILE --from ADDR --to ADDR [--to ADDR ...]
                  [--var NAME=VALUE ...] [--explain] [--json]
       tern queue list|show|retry|delete|hold|release ...  (tern queue --help)" -- "$tern" config chek valid.toml

# The embedded default is a valid configuration, and ternd runs on it until SIGTERM.
tmp=$(mktemp -d)
"$tern" config default >"$tmp/default.toml"
expect "embedded default checks" 0 \
  "$tmp/default.toml: ok (12 keys set, 3 listeners, 0 remote hosts, 1 directories, 0 warnings)" \
  -- "$tern" config check "$tmp/default.toml"
# In the temporary folder: the default's spool is ./var/spool, never the source tree.
(cd "$tmp" && exec "$ternd" >"$tmp/ternd.log" 2>&1) &
pid=$!
for _ in $(seq 50); do grep -q "listener 'submission'" "$tmp/ternd.log" && break; sleep 0.1; done
kill -TERM "$pid"
wait "$pid"
status=$?
if [ $status -eq 0 ] && grep -q "received SIGTERM, stopping" "$tmp/ternd.log"; then
  passes=$((passes + 1))
else
  failures=$((failures + 1))
  echo "FAIL ternd on the embedded default: exit $status, log:"; cat "$tmp/ternd.log"
fi
rm -rf "$tmp"

finish "cli"
