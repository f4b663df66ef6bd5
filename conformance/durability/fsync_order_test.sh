#!/usr/bin/env bash
# fsync_order_test.sh TERND
#
# Black-box check of ternd's durability rule ("a 250 after DATA is sent only after the
# message and its envelope are durable"): runs TERND under strace on a temporary
# configuration (a free port on 127.0.0.1, a temporary spool and Maildir), sends ONE
# message over a raw socket, stops ternd with SIGTERM and reads the trace. Before the
# write of "250 2.0.0 Ok: queued as <ID>" to the client socket, in the chronological order
# of `strace -f` (a call counts as done at its result, "<... resumed>" included), there
# must have been, every call succeeding:
#   1. an fsync/fdatasync of the body file (<ID>.body*), done before the body's rename;
#   2. an fsync/fdatasync of the envelope file (<ID>.env*), done before the env's rename;
#   3. the rename of the body into msg/<ID>.body;
#   4. the rename of the envelope into msg/<ID>.env, after the body's (the envelope is
#      the commit record: recovery deletes a body without one);
#   5. an fsync/fdatasync of the msg/ directory begun after both renames had returned.
# Exit 0 when all hold; otherwise each missing or misordered step is named, with the
# relevant trace lines. `fsync_order_test.sh --parse TRACE` only checks an existing trace.
set -euo pipefail

check_trace() {  # check_trace TRACE: the parser, shared by both modes
  python3 - "$1" <<'PYEOF'
import re, sys

path = sys.argv[1]
LINE = re.compile(r"^(\d+)\s+([\d.:]+)\s+(.*)$")
CALL = re.compile(r"^(\w+)\((.*)$")
RESUMED = re.compile(r"^<\.\.\. (\w+) resumed>(.*)$")
RESULT = re.compile(r"\)\s+=\s+(-?\d+|\?)(.*)$")

events, pending = [], {}
with open(path, encoding="utf-8", errors="replace") as f:
    lines = f.read().splitlines()
for idx, raw in enumerate(lines):
    m = LINE.match(raw)
    if not m:
        continue
    pid, stamp, rest = m.groups()
    r = RESUMED.match(rest)
    if r:
        ev = pending.pop((pid, r.group(1)), None)
        if ev is None:
            continue
        ev["args"] += r.group(2)
    else:
        c = CALL.match(rest)
        if not c:
            continue  # signals, exits
        ev = {"name": c.group(1), "pid": pid, "start": idx, "end": None, "ret": None,
              "args": c.group(2), "stamp": stamp, "line": raw}
        events.append(ev)
    if ev["args"].endswith("<unfinished ...>"):
        ev["args"] = ev["args"][: -len("<unfinished ...>")]
        pending[(pid, ev["name"])] = ev
        continue
    res = list(RESULT.finditer(ev["args"]))
    ev["end"] = idx
    ev["ret"] = res[-1].group(1) if res else "?"

SENDS = ("write", "writev", "send", "sendto", "sendmsg")
FSYNCS = ("fsync", "fdatasync")
RENAMES = ("rename", "renameat", "renameat2")
queued = re.compile(r"250 2\.0\.0 Ok: queued as ([A-Za-z0-9]+)")
ack = next((e for e in events if e["name"] in SENDS and "socket:" in e["args"]
            and queued.search(e["args"])), None)
if ack is None:
    print("FAIL: no write/send of \"250 2.0.0 Ok: queued as <ID>\" to a socket in " + path)
    sys.exit(1)
ident = queued.search(ack["args"]).group(1)
before = ack["start"]
problems = []
if ack["ret"] in (None, "?") or int(ack["ret"]) <= 0:
    problems.append("the write of the 250 did not succeed (result %s)" % ack["ret"])

def fd_path(ev):
    m = re.match(r"\s*\d+<([^>]*)>", ev["args"])
    return m.group(1) if m else None

def rename_target(ev):
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', ev["args"])
    if not strings:
        return None
    target = strings[-1]
    if ev["name"] != "rename" and not target.startswith("/"):
        dirs = re.findall(r"\d+<([^>]*)>", ev["args"])
        if len(dirs) >= 2:
            target = dirs[-1].rstrip("/") + "/" + target
    return target

def done_before(ev, limit):
    return ev["end"] is not None and ev["end"] < limit

def ok(ev):
    return ev["ret"] == "0"

def show(ev):
    return "line %d: %s" % (ev["start"] + 1, ev["line"][:200])

renames = [e for e in events if e["name"] in RENAMES]
body_renames = [e for e in renames if (rename_target(e) or "").endswith("/msg/%s.body" % ident)]
env_renames = [e for e in renames if (rename_target(e) or "").endswith("/msg/%s.env" % ident)]
fsyncs = [e for e in events if e["name"] in FSYNCS]

def first_done(cands, limit):
    good = [e for e in cands if done_before(e, limit) and ok(e)]
    return good[0] if good else None

body_rename = first_done(body_renames, before)
env_rename = first_done(env_renames, before)
for kind, found, cands in (("body", body_rename, body_renames), ("env", env_rename, env_renames)):
    if found is None:
        seen = " (seen only after it or failing: %s)" % show(cands[0]) if cands else ""
        problems.append("MISSING: a successful rename of %s.%s into msg/ before the 250%s"
                        % (ident, kind, seen))

def file_fsync(kind, rename):
    limit = rename["start"] if rename is not None else before
    cands = [e for e in fsyncs if re.search(r"/%s\.%s[^/]*$" % (ident, kind), fd_path(e) or "")]
    if first_done(cands, limit) is None:
        where = "its rename into msg/" if rename is not None else "the 250"
        seen = " (seen: %s)" % show(cands[0]) if cands else ""
        problems.append("MISSING: a successful fsync of the %s file (%s.%s*) completed before %s%s"
                        % ("body" if kind == "body" else "envelope", ident, kind, where, seen))

file_fsync("body", body_rename)
file_fsync("env", env_rename)
if body_rename is not None and env_rename is not None and env_rename["start"] < body_rename["end"]:
    problems.append("ORDER: the envelope (the commit record) was renamed into msg/ before the "
                    "body's rename returned: %s / %s" % (show(env_rename), show(body_rename)))
if body_rename is not None and env_rename is not None:
    after = max(body_rename["end"], env_rename["end"])
    dir_syncs = [e for e in fsyncs if re.search(r"/msg/?$", fd_path(e) or "")]
    good = [e for e in dir_syncs if e["start"] > after and done_before(e, before) and ok(e)]
    if not good:
        seen = "; ".join(show(e) for e in dir_syncs[:3]) or "none at all"
        problems.append("MISSING: a successful fsync of the msg/ directory begun after both "
                        "renames and completed before the 250 (msg/ fsyncs seen: %s)" % seen)

if problems:
    print("FAIL: ternd acknowledged %s before it was durable:" % ident)
    for p in problems:
        print("  - " + p)
    print("  the 250: " + show(ack))
    print("  trace lines naming %s:" % ident)
    for e in events:
        if ident in e["args"] or ident in (fd_path(e) or ""):
            print("    " + show(e))
    sys.exit(1)
body_sync = first_done([e for e in fsyncs if ("%s.body" % ident) in (fd_path(e) or "")], before)
print("fsync order OK for %s: body fsync (line %d), env fsync, body rename (line %d), env "
      "rename (line %d), msg/ fsync (line %d), then the 250 (line %d)"
      % (ident, body_sync["start"] + 1, body_rename["start"] + 1, env_rename["start"] + 1,
         good[0]["start"] + 1, ack["start"] + 1))
PYEOF
}

if [[ $# -eq 2 && $1 == "--parse" ]]; then
  check_trace "$2"
  exit $?
fi
if [[ $# -ne 1 ]]; then
  echo "usage: $0 TERND | $0 --parse TRACE" >&2
  exit 2
fi
command -v strace > /dev/null || { echo "FAIL: strace is not installed"; exit 1; }
TERND=$(readlink -f "$1")
[[ -x $TERND ]] || { echo "FAIL: $1 is not an executable"; exit 1; }

work=$(mktemp -d /tmp/tern-fsync-order.XXXXXX)
strace_pid=""
status=1
cleanup() {
  if [[ -s $work/pid ]] && kill -0 "$(cat "$work/pid")" 2> /dev/null; then
    kill -KILL "$(cat "$work/pid")" 2> /dev/null || true
  fi
  if [[ -n $strace_pid ]]; then wait "$strace_pid" 2> /dev/null || true; fi
  if [[ $status -eq 0 ]]; then rm -rf "$work"; else echo "(work folder kept: $work)"; fi
}
trap cleanup EXIT

started=$SECONDS
# A free port below the ephemeral range (no client socket can be holding it).
port=$(python3 -c '
import random, socket
low = int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
for _ in range(200):
    port = random.randint(10000, low - 1) if low > 12000 else random.randint(61000, 65000)
    try:
        socket.socket().bind(("127.0.0.1", port))
        print(port)
        break
    except OSError:
        pass
')
[[ -n $port ]] || { echo "FAIL: no free port on 127.0.0.1"; exit 1; }
cat > "$work/ternd.toml" << EOF
# Written by conformance/durability/fsync_order_test.sh
[server]
hostname = "localhost"

[server.listener.smtp]
bind = ["127.0.0.1:$port"]
protocol = "smtp"
tls.starttls = false

[directory.local]
type = "memory"
principals = [
  { name = "demo", secret = "\$6\$ternDemoSalt0001\$k.9YtZB7IgBqI9TyASG/9lhqsD0PsG47k4Sie5bdbksN8RVHJFUuNowCTEkmJrJmS1X0SmZ3xSPFlkFFdTPb/0", email = ["demo@localhost"] },
]

[storage]
spool = "$work/spool"
maildir = "$work/mail"
EOF

# sh records its pid and execs ternd, so SIGTERM goes to ternd itself, not to strace.
strace -f -ttt -y -s 512 -o "$work/trace" \
  -e trace=fsync,fdatasync,rename,renameat,renameat2,write,writev,sendto,sendmsg \
  -- /bin/sh -c 'echo $$ > "$1/pid"; exec "$2" --config "$1/ternd.toml"' sh "$work" "$TERND" \
  > "$work/ternd.log" 2>&1 &
strace_pid=$!

for _ in $(seq 1 300); do
  grep -q ' ready (spool ' "$work/ternd.log" 2> /dev/null && break
  kill -0 "$strace_pid" 2> /dev/null || break
  sleep 0.05
done
if ! grep -q ' ready (spool ' "$work/ternd.log"; then
  echo "FAIL: ternd did not become ready under strace; its log:"
  sed 's/^/    /' "$work/ternd.log" | tail -20
  exit 1
fi

# One message over a raw socket to 127.0.0.1 only.
if ! reply=$(python3 - "$port" << 'PYEOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=20)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        line = f.readline()
        if not line:
            sys.exit("connection closed; replies so far: %r" % lines)
        lines.append(line)
        if line[3:4] != b"-":
            return lines
def expect(code):
    r = reply()
    if not r[-1].startswith(code):
        sys.exit("expected %s, got %r" % (code.decode(), r))
    return r[-1].decode().strip()
expect(b"220")
s.sendall(b"EHLO fsync-order.test\r\n"); expect(b"250")
s.sendall(b"MAIL FROM:<fsync@order.test>\r\n"); expect(b"250")
s.sendall(b"RCPT TO:<demo@localhost>\r\n"); expect(b"250")
s.sendall(b"DATA\r\n"); expect(b"354")
s.sendall(b"Subject: fsync order\r\n\r\n" + b"durable line\r\n" * 200 + b".\r\n")
print(expect(b"250"))
s.sendall(b"QUIT\r\n"); reply()
PYEOF
); then
  echo "FAIL: the SMTP exchange with ternd failed: $reply"
  exit 1
fi
echo "ternd answered: $reply"

# Let the local delivery finish (not what is checked, but a clean stop), then SIGTERM.
for _ in $(seq 1 200); do
  delivered=$(ls -A "$work/mail/demo/new" 2> /dev/null || true)
  queued=$(ls -A "$work/spool/msg" 2> /dev/null || true)
  [[ -n $delivered && -z $queued ]] && break
  sleep 0.05
done
kill -TERM "$(cat "$work/pid")"
for _ in $(seq 1 400); do
  kill -0 "$strace_pid" 2> /dev/null || break
  sleep 0.05
done
if kill -0 "$strace_pid" 2> /dev/null; then
  echo "FAIL: ternd did not stop within 20s of SIGTERM"
  exit 1
fi
wait "$strace_pid" || true
strace_pid=""

if check_trace "$work/trace"; then status=0; fi
echo "elapsed $((SECONDS - started))s"
[[ $status -eq 0 ]] && echo PASS
exit $status
