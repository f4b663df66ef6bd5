#!/usr/bin/env bash
# fsync_order_test.sh TERND
#
# Black-box check of ternd's durability rule ("a 250 after DATA is sent only after the
# message's commit record is durable", docs/spool.md): runs TERND under strace on a temporary
# configuration (a free port on 127.0.0.1, a temporary spool and Maildir), sends ONE
# message over a raw socket, stops ternd with SIGTERM and reads the trace. Before the
# write of "250 2.0.0 Ok: queued as <ID>" to the client socket, in the chronological order
# of `strace -f` (a call counts as done at its result, "<... resumed>" included), there
# must have been, every call succeeding:
#   1. a write-family call (write, pwrite64, writev, pwritev, pwritev2) to a segment of the
#      spool log (<spool>/log/<16 hex>.log) whose data holds the bytes of <ID> (the commit
#      record: a 24-byte header, then the id; with writev the id may be in any iovec) and
#      whose result covers them;
#   2. an fdatasync or fsync of that same segment begun after 1 returned and finished
#      before the 250;
#   3. an fsync of that segment's directory (<spool>/log) finished before the 250 and, when
#      the trace shows the segment being created (open with O_CREAT, rename or link onto
#      its name), begun after that creation returned.
# Exit 0 when all hold; otherwise each missing or misordered step is named, with the
# relevant trace lines. `fsync_order_test.sh --parse TRACE [SPOOL]` only checks an existing
# trace (strace -f -y -s 512 or more; with SPOOL, only segments under SPOOL/log count).
set -euo pipefail

check_trace() {  # check_trace TRACE [SPOOL]: the parser, shared by both modes
  python3 - "$@" <<'PYEOF'
import os, re, sys

path = sys.argv[1]
spool = os.path.realpath(sys.argv[2]) if len(sys.argv) > 2 else None
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
              "args": c.group(2), "stamp": stamp, "line": raw, "ret_path": None}
        events.append(ev)
    if ev["args"].endswith("<unfinished ...>"):
        ev["args"] = ev["args"][: -len("<unfinished ...>")]
        pending[(pid, ev["name"])] = ev
        continue
    res = list(RESULT.finditer(ev["args"]))
    ev["end"] = idx
    ev["ret"] = res[-1].group(1) if res else "?"
    if res:
        rp = re.match(r"<([^>]*)>", res[-1].group(2))
        ev["ret_path"] = rp.group(1) if rp else None

SENDS = ("write", "writev", "send", "sendto", "sendmsg")
WRITES = ("write", "pwrite64", "writev", "pwritev", "pwritev2")
FSYNCS = ("fsync", "fdatasync")
OPENS = ("open", "openat", "openat2", "creat")
RENAMES = ("rename", "renameat", "renameat2", "link", "linkat")
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

SEGMENT = re.compile(r"^(.*/log)/[0-9a-f]{16}\.log$")

def is_segment(p):
    m = SEGMENT.match(p or "")
    return bool(m) and (spool is None or m.group(1) == spool + "/log")

ESCAPE = re.compile(r'\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)')
SIMPLE = {"n": 10, "t": 9, "r": 13, "v": 11, "f": 12, "a": 7, "b": 8, "e": 27}

def unquote(text):
    """The bytes of one strace string literal (without its quotes)."""
    def one(m):
        e = m.group(1)
        if e[0] == "x" and len(e) == 3:
            return chr(int(e[1:], 16))
        if e[0] in "01234567":
            return chr(int(e, 8) & 0xFF)
        return chr(SIMPLE.get(e, ord(e)))
    return ESCAPE.sub(one, text).encode("latin-1", "replace")

def written_data(ev):
    """The data of a write-family call as strace shows it, iovecs joined at their offsets:
    what -s cut off is filled with NULs (no id holds one), so an id in a later iovec is
    still found, at its true offset."""
    iovs = re.findall(r'iov_base="((?:[^"\\]|\\.)*)"(?:\.\.\.)?, iov_len=(\d+)', ev["args"])
    if not iovs:
        m = re.search(r'"((?:[^"\\]|\\.)*)"', ev["args"])
        return unquote(m.group(1)) if m else b""
    data = b""
    for text, length in iovs:
        piece = unquote(text)[:int(length)]
        data += piece + b"\0" * (int(length) - len(piece))
    return data

def rename_target(ev):
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', ev["args"])
    if not strings:
        return None
    target = strings[-1]
    if ev["name"] not in ("rename", "link") and not target.startswith("/"):
        dirs = re.findall(r"(?:\d+|AT_FDCWD)<([^>]*)>", ev["args"])
        if dirs:
            target = dirs[-1].rstrip("/") + "/" + target
    return target

def done_before(ev, limit):
    return ev["end"] is not None and ev["end"] < limit

def ok(ev):
    return ev["ret"] == "0"

def show(ev):
    return "line %d: %s" % (ev["start"] + 1, ev["line"][:200])

def covers_id(ev):
    """The call wrote the id's bytes: they are in its data and within its result."""
    if ev["ret"] in (None, "?") or int(ev["ret"]) <= 0:
        return False
    at = written_data(ev).find(ident.encode())
    return at >= 0 and int(ev["ret"]) >= at + len(ident)

fsyncs = [e for e in events if e["name"] in FSYNCS]
log_writes = [e for e in events if e["name"] in WRITES and is_segment(fd_path(e))]
id_writes = [e for e in log_writes if ident.encode() in written_data(e)]
good_writes = [e for e in id_writes if covers_id(e) and done_before(e, before)]
write = sync = dir_sync = None
if not good_writes:
    if id_writes:
        seen = "; ".join(show(e) for e in id_writes[:3])
        problems.append("MISSING: step 1, a successful write of %s to a log segment completed "
                        "before the 250 (seen only after it, failing or short: %s)"
                        % (ident, seen))
    else:
        seen = "; ".join(show(e) for e in log_writes[:3]) or "no write to a log segment at all"
        problems.append("MISSING: step 1, a write to <spool>/log/<16 hex>.log whose data holds "
                        "%s before the 250 (log writes seen: %s)" % (ident, seen))
else:
    # Any write of the id followed by a sync of its segment will do; report the first pair.
    for w in good_writes:
        cands = [e for e in fsyncs if fd_path(e) == fd_path(w) and e["start"] > w["end"]
                 and done_before(e, before) and ok(e)]
        if cands:
            write, sync = w, cands[0]
            break
    if sync is None:
        write = good_writes[-1]
        same = [e for e in fsyncs if fd_path(e) == fd_path(write)]
        why = []
        for e in same[:6]:
            if e["start"] <= write["end"]:
                why.append("began before the write returned: " + show(e))
            elif not done_before(e, before):
                why.append("not finished before the 250: " + show(e))
            elif not ok(e):
                why.append("failed: " + show(e))
        problems.append("MISSING: step 2, an fdatasync/fsync of %s begun after the write of %s "
                        "(%s) returned, succeeding and finished before the 250 (%s)"
                        % (fd_path(write), ident, show(write),
                           "; ".join(why) or "no sync of that file at all"))
    segment = fd_path(write)
    folder = SEGMENT.match(segment).group(1)
    created = [e for e in events if e["end"] is not None and e["end"] < before and (
        (e["name"] in OPENS and "O_CREAT" in e["args"] and e["ret_path"] == segment) or
        (e["name"] in RENAMES and rename_target(e) == segment and ok(e)))]
    creation = created[-1] if created else None
    dir_syncs = [e for e in fsyncs if (fd_path(e) or "").rstrip("/") == folder]
    good = [e for e in dir_syncs if ok(e) and done_before(e, before)
            and (creation is None or e["start"] > creation["end"])]
    if good:
        dir_sync = good[0]
    else:
        seen = "; ".join(show(e) for e in dir_syncs[:3]) or "none at all"
        after = (" begun after the segment's creation (%s)" % show(creation)) if creation else ""
        problems.append("MISSING: step 3, a successful fsync of the directory %s%s, finished "
                        "before the 250 (fsyncs of it seen: %s)" % (folder, after, seen))

if problems:
    print("FAIL: ternd acknowledged %s before it was durable:" % ident)
    for p in problems:
        print("  - " + p)
    print("  the 250: " + show(ack))
    print("  trace lines naming %s or a log segment:" % ident)
    for e in events[:]:
        if ident in e["args"] or ident in (fd_path(e) or "") or is_segment(fd_path(e)) \
                or is_segment(e["ret_path"]):
            print("    " + show(e))
    sys.exit(1)
print("fsync order OK for %s: %s of the record to %s (line %d), %s of it (line %d), "
      "fsync of %s (line %d), then the 250 (line %d)"
      % (ident, write["name"], fd_path(write), write["start"] + 1, sync["name"],
         sync["start"] + 1, os.path.dirname(fd_path(write)), dir_sync["start"] + 1,
         ack["start"] + 1))
PYEOF
}

if [[ $# -ge 2 && $# -le 3 && $1 == "--parse" ]]; then
  shift
  check_trace "$@"
  exit $?
fi
if [[ $# -ne 1 ]]; then
  echo "usage: $0 TERND | $0 --parse TRACE [SPOOL]" >&2
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

# One -e trace= only: strace keeps the last of several.
calls=fsync,fdatasync,open,openat,openat2,creat,rename,renameat,renameat2,link,linkat
calls=$calls,write,writev,pwrite64,pwritev,pwritev2,sendto,sendmsg
# sh records its pid and execs ternd, so SIGTERM goes to ternd itself, not to strace.
strace -f -ttt -y -s 512 -o "$work/trace" \
  -e "trace=$calls" \
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
# The spool is read with the black-box tests' reader of the log (peers.spool_ids).
python3 - "$(dirname "$(readlink -f "$0")")/../blackbox" "$work" << 'PYEOF' || true
import os, sys, time
sys.path.insert(0, sys.argv[1])
from peers import spool_ids
work = sys.argv[2]
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    new = os.path.join(work, "mail", "demo", "new")
    if os.path.isdir(new) and os.listdir(new) and not spool_ids(os.path.join(work, "spool")):
        break
    time.sleep(0.05)
PYEOF
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

if check_trace "$work/trace" "$work/spool"; then status=0; fi
echo "elapsed $((SECONDS - started))s"
[[ $status -eq 0 ]] && echo PASS
exit $status
