#!/usr/bin/env python3
"""Crash durability test of the real ternd daemon (black box, Python 3 stdlib only; the
spool is read with ../blackbox/peers.py, itself stdlib only).

    crash_test.py TERND [--messages N] [--kills K] [--seed S] [--threads T] [--aborts A]
                        [--keep]

Starts TERND on a temporary configuration (a free port on 127.0.0.1, a temporary spool and
Maildir root), then runs a concurrent SMTP load of N messages to several local users while
a killer thread sends SIGKILL to ternd K times at seeded random moments and restarts it on
the same folders. Clients behave like an MTA (RFC 5321 section 6.1): a message whose final
reply is not 250 (lost connection, 4xx) is sent again; a 250 makes it ACKED. A further A
clients deliberately abandon a message in the middle of DATA or BDAT (ABORTED).

After the load the queue is left to drain, ternd gets SIGTERM, and the Maildirs are read:
  - every ACKED (user, id) is in the user's Maildir new/ with exactly the body that was
    sent (sha256 and byte comparison: torn or corrupted files fail the test);
  - an id may be delivered more than once (in flight at a kill, or durable but the 250
    lost and the client retried): duplicates are counted and reported, but more than K+2
    copies of one id fail the test;
  - no ABORTED id appears anywhere;
  - files in tmp/ are never counted (they are reported);
  - no 5xx reply, no ternd crash (an exit we did not cause), a drained spool and a clean
    exit 0 on SIGTERM.
Exit status 0 only when every check passes; the summary names what failed.
"""

import argparse
import hashlib
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "blackbox"))
from harness import free_port  # noqa: E402  (reserved below the ephemeral range)
from peers import spool_ids  # noqa: E402  (the spool log's reader)

USERS = ["demo", "alice", "bob"]
# The demo hash of config/default.toml: a hashed secret keeps ternd's log free of warnings.
SECRET = ("$6$ternDemoSalt0001$k.9YtZB7IgBqI9TyASG/9lhqsD0PsG47k4Sie5bdbksN8RVHJFUuNowCTEkmJ"
          "rJmS1X0SmZ3xSPFlkFFdTPb/0")
SOCKET_TIMEOUT = 15.0        # one read or write on a client socket
MESSAGE_DEADLINE = 150.0     # one message must be ACKED within this long of its first try
READY_TIMEOUT = 15.0         # ternd must print "ready" within this long of a start
DRAIN_TIMEOUT = 90.0         # the spool must empty within this long after the load
STOP_TIMEOUT = 40.0          # SIGTERM must end ternd within this long (shutdown grace 30s)
ID_RE = re.compile(rb"DUR-\d+-[MA]\d{6}")
_ALPHABET = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,;:-_=+/"
PRINTABLE = bytes(_ALPHABET[i % len(_ALPHABET)] for i in range(256))  # byte -> text byte
QUEUE_ID_RE = re.compile(rb"^\tby \S+ \(Tern\) with \S+ id ([A-Za-z0-9]+);?\r?$", re.M)
SUBJECT_RE = re.compile(rb"^Subject: durability (DUR-\d+-[MA]\d{6}) sha256=([0-9a-f]{64}) "
                        rb"len=(\d+)\r?$", re.M)


class Fatal(Exception):
    """Something that ends the test at once (ternd cannot start, crashed on its own)."""


class TempFail(Exception):
    """Lost connection, timeout or 4xx: the client sends the message again."""


class PermFail(Exception):
    """A 5xx reply: never expected in this test."""


# ----------------------------------------------------------------------------------------
# Messages

def msg_id(seed, kind, index):
    return "DUR-%d-%s%06d" % (seed, kind, index)


def make_body(seed, ident):
    """The body of message `ident`, a pure function of (seed, ident): CRLF lines, some of
    them starting with '.', so that dot-stuffing is exercised; mostly small, a few large."""
    rng = random.Random("%d:%s" % (seed, ident))
    size = rng.randint(30000, 120000) if rng.random() < 0.04 else rng.randint(100, 4000)
    lines = [b"id: " + ident.encode()]
    total = len(lines[0]) + 2
    while total < size:
        roll = rng.random()
        if roll < 0.03:
            line = b"."
        elif roll < 0.08:
            line = b"." + rng.randbytes(rng.randint(0, 40)).translate(PRINTABLE)
        elif roll < 0.10:
            line = b""
        else:
            line = rng.randbytes(rng.randint(1, 76)).translate(PRINTABLE)
        lines.append(line)
        total += len(line) + 2
    lines.append(b"end: " + ident.encode())
    return b"\r\n".join(lines) + b"\r\n"


def make_message(seed, ident):
    body = make_body(seed, ident)
    header = ("From: <load@client.test>\r\nTo: <rcpt@localhost>\r\n"
              "Message-ID: <%s@durability.test>\r\n"
              "Subject: durability %s sha256=%s len=%d\r\n\r\n"
              % (ident, ident, hashlib.sha256(body).hexdigest(), len(body)))
    return header.encode("ascii"), body


def dot_stuff(data):
    lines = data.split(b"\r\n")
    return b"\r\n".join(b"." + l if l.startswith(b".") else l for l in lines)


# ----------------------------------------------------------------------------------------
# The daemon under test

class Daemon:
    """One ternd at a time on fixed folders; every start logs to its own file."""

    def __init__(self, binary, workdir, config):
        self.binary, self.workdir, self.config = binary, workdir, config
        self.proc = None
        self.starts = 0
        self.kills = 0
        self.lock = threading.Lock()

    def log_path(self, n):
        return os.path.join(self.workdir, "ternd.%02d.log" % n)

    def start(self):
        """Starts ternd and waits for "ready"; a port still held (bind fails) is retried."""
        for attempt in range(10):
            try:
                return self.start_once()
            except Fatal as e:
                if "Address already in use" not in str(e) or attempt == 9:
                    raise
                time.sleep(0.3)

    def start_once(self):
        with self.lock:
            self.starts += 1
            log = open(self.log_path(self.starts), "wb")
            self.proc = subprocess.Popen([self.binary, "--config", self.config],
                                        cwd=self.workdir, stdout=log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL)
            log.close()
            proc, n = self.proc, self.starts
        deadline = time.monotonic() + READY_TIMEOUT
        while time.monotonic() < deadline:
            with open(self.log_path(n), "rb") as f:
                if b" ready (spool " in f.read():
                    return
            if proc.poll() is not None:
                raise Fatal("ternd start #%d exited with %s before ready:\n%s"
                            % (n, proc.returncode, self.tail(n)))
            time.sleep(0.01)
        raise Fatal("ternd start #%d not ready after %.0fs:\n%s" % (n, READY_TIMEOUT, self.tail(n)))

    def kill9(self):
        with self.lock:
            proc = self.proc
            if proc.poll() is not None:
                raise Fatal("ternd start #%d died on its own (status %s) before kill %d:\n%s"
                            % (self.starts, proc.returncode, self.kills + 1,
                               self.tail(self.starts)))
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            self.kills += 1

    def check_alive(self):
        with self.lock:
            if self.proc.poll() is not None:
                raise Fatal("ternd start #%d died on its own (status %s):\n%s"
                            % (self.starts, self.proc.returncode, self.tail(self.starts)))

    def terminate(self):
        with self.lock:
            proc = self.proc
            if proc.poll() is not None:
                raise Fatal("ternd died on its own (status %s) before SIGTERM:\n%s"
                            % (proc.returncode, self.tail(self.starts)))
            proc.send_signal(signal.SIGTERM)
            try:
                status = proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                raise Fatal("ternd did not stop within %.0fs of SIGTERM" % STOP_TIMEOUT)
        return status

    def kill_quietly(self):
        with self.lock:
            if self.proc is not None and self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()

    def tail(self, n, lines=15):
        try:
            with open(self.log_path(n), "rb") as f:
                data = f.read().decode("utf-8", "replace").splitlines()
        except OSError:
            return "(no log)"
        return "\n".join("    " + l for l in data[-lines:])

    def grep_logs(self, needle):
        """(start number, line) of every log line that contains `needle`."""
        hits = []
        for n in range(1, self.starts + 1):
            try:
                with open(self.log_path(n), "rb") as f:
                    for line in f.read().decode("utf-8", "replace").splitlines():
                        if needle in line:
                            hits.append((n, line))
            except OSError:
                pass
        return hits


def write_config(workdir, port):
    principals = ",\n".join('  { name = "%s", secret = "%s", email = ["%s@localhost"] }'
                            % (u, SECRET, u) for u in USERS)
    text = """# Written by conformance/durability/crash_test.py
[server]
hostname = "localhost"
timeout.shutdown = "10s"

[server.listener.smtp]
bind = ["127.0.0.1:%d"]
protocol = "smtp"
tls.starttls = false

[directory.local]
type = "memory"
principals = [
%s,
]

[storage]
spool = "%s"
maildir = "%s"
""" % (port, principals, os.path.join(workdir, "spool"), os.path.join(workdir, "mail"))
    path = os.path.join(workdir, "ternd.toml")
    with open(path, "w") as f:
        f.write(text)
    return path


# ----------------------------------------------------------------------------------------
# SMTP client

class Conn:
    """One SMTP connection to 127.0.0.1 (never anywhere else)."""

    def __init__(self, port):
        try:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT)
        except OSError as e:
            raise TempFail("connect: %s" % e)
        self.buf = b""
        code, _ = self.reply()
        if code != 220:
            self.close()
            raise (TempFail if code // 100 == 4 else PermFail)("greeting %d" % code)
        self.send(b"EHLO client.test\r\n")
        code, text = self.reply()
        if code != 250:
            self.close()
            raise (TempFail if code // 100 == 4 else PermFail)("EHLO %d %s" % (code, text))
        self.chunking = b"CHUNKING" in text

    def send(self, data):
        try:
            self.sock.sendall(data)
        except OSError as e:
            raise TempFail("send: %s" % e)

    def line(self):
        while b"\r\n" not in self.buf:
            try:
                chunk = self.sock.recv(65536)
            except OSError as e:
                raise TempFail("recv: %s" % e)
            if not chunk:
                raise TempFail("connection closed by ternd")
            self.buf += chunk
            if len(self.buf) > 100000:
                raise PermFail("reply line too long")
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def reply(self):
        """(code, text of all lines) of one possibly multi-line reply."""
        texts = []
        while True:
            line = self.line()
            if len(line) < 3 or not line[:3].isdigit():
                raise PermFail("malformed reply line %r" % line)
            texts.append(line[4:])
            if line[3:4] != b"-":
                return int(line[:3]), b"\n".join(texts)

    def close(self, reset=False):
        try:
            if reset:
                self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                     (1).to_bytes(4, "little") + (0).to_bytes(4, "little"))
            self.sock.close()
        except OSError:
            pass


def check_replies(replies, what):
    """Raises on the first reply that is not a success: 4xx is temporary, 5xx permanent."""
    for code, text in replies:
        if code // 100 in (2, 3):
            continue
        kind = TempFail if code // 100 == 4 else PermFail
        raise kind("%s: %d %s" % (what, code, text.decode("utf-8", "replace")))


def envelope_commands(ident, rcpts):
    cmds = b"MAIL FROM:<load+%s@client.test>\r\n" % ident.encode()
    for r in rcpts:
        cmds += b"RCPT TO:<%s@localhost>\r\n" % r.encode()
    return cmds


def send_data(conn, ident, rcpts, message):
    """MAIL, RCPT..., DATA pipelined (RFC 2920), then the body; returns the final reply."""
    conn.send(envelope_commands(ident, rcpts) + b"DATA\r\n")
    replies = [conn.reply() for _ in range(len(rcpts) + 2)]
    check_replies(replies[:-1], "envelope")
    if replies[-1][0] != 354:
        check_replies([replies[-1]], "DATA")
        raise PermFail("DATA answered %d" % replies[-1][0])
    conn.send(dot_stuff(message) + b".\r\n")
    return conn.reply()


def send_bdat(conn, ident, rcpts, message, rng):
    """MAIL, RCPT..., and every BDAT chunk pipelined (RFC 3030); returns the last reply."""
    cuts = sorted(rng.sample(range(1, len(message)), min(rng.randint(0, 3), len(message) - 1)))
    bounds = [0] + cuts + [len(message)]
    out = envelope_commands(ident, rcpts)
    for i in range(len(bounds) - 1):
        chunk = message[bounds[i]:bounds[i + 1]]
        last = b" LAST" if i == len(bounds) - 2 else b""
        out += b"BDAT %d%s\r\n" % (len(chunk), last) + chunk
    conn.send(out)
    replies = [conn.reply() for _ in range(len(rcpts) + len(bounds))]
    check_replies(replies[:-1], "envelope/BDAT")
    return replies[-1]


# ----------------------------------------------------------------------------------------
# The load

class Shared:
    def __init__(self, total_ops):
        self.lock = threading.Lock()
        self.done = 0                 # messages ACKED plus aborts performed
        self.total_ops = total_ops
        self.acked = {}               # id -> list of (queue id, rcpts) of every 250
        self.aborted = []             # ids of messages abandoned mid-DATA/BDAT
        self.retries = 0
        self.temp_reasons = {}
        self.errors = []              # reasons the test fails
        self.abort_250 = []           # an abort that got a 250 anyway (a bug)
        self.stop = threading.Event()
        self.progress = threading.Condition(self.lock)

    def fail(self, text):
        with self.lock:
            self.errors.append(text)
        self.stop.set()

    def count_done(self):
        with self.lock:
            self.done += 1
            self.progress.notify_all()


def temp_key(reason):
    return re.sub(r"\d+", "#", str(reason))[:60]


def run_message(shared, port, state, item, rng):
    """Sends one message until ACKED (retrying like an MTA) or until the test stops."""
    ident, rcpts, use_bdat = item
    header, body = make_message(state["seed"], ident)
    message = header + body
    first = time.monotonic()
    while not shared.stop.is_set():
        try:
            if state["conn"] is None:
                state["conn"] = Conn(port)
            conn = state["conn"]
            if use_bdat and conn.chunking:
                code, text = send_bdat(conn, ident, rcpts, message, rng)
            else:
                code, text = send_data(conn, ident, rcpts, message)
            if code == 250:
                m = re.search(rb"queued as (\S+)", text)
                with shared.lock:
                    shared.acked.setdefault(ident, []).append(
                        (m.group(1).decode() if m else "?", tuple(rcpts)))
                shared.count_done()
                if rng.random() < 0.15:      # sometimes QUIT and start a new connection
                    try:
                        conn.send(b"QUIT\r\n")
                        conn.reply()
                    except TempFail:
                        pass
                    conn.close()
                    state["conn"] = None
                return
            check_replies([(code, text)], "end of data")
            raise PermFail("end of data answered %d" % code)
        except TempFail as e:
            if state["conn"] is not None:
                state["conn"].close()
                state["conn"] = None
            with shared.lock:
                shared.retries += 1
                key = temp_key(e)
                shared.temp_reasons[key] = shared.temp_reasons.get(key, 0) + 1
            if time.monotonic() - first > MESSAGE_DEADLINE:
                shared.fail("%s not ACKED within %.0fs (last: %s)" % (ident, MESSAGE_DEADLINE, e))
                return
            time.sleep(rng.uniform(0.01, 0.08))
        except PermFail as e:
            shared.fail("%s: permanent failure: %s" % (ident, e))
            return


def run_abort(shared, port, state, item, rng):
    """Starts a message and abandons it before its end: it must never be delivered."""
    ident, rcpts, variant = item
    header, body = make_message(state["seed"], ident)
    message = header + body
    with shared.lock:
        shared.aborted.append(ident)
    for _ in range(50):
        if shared.stop.is_set():
            return
        conn, state["conn"] = state["conn"], None   # this connection ends here either way
        try:
            if conn is None:
                conn = Conn(port)
            if variant == "bdat" and conn.chunking:
                conn.send(envelope_commands(ident, rcpts))
                check_replies([conn.reply() for _ in range(len(rcpts) + 1)], "envelope")
                cut = rng.randint(1, len(message) - 1)
                short = cut + rng.randint(0, len(message) - cut - 1)   # the LAST chunk, cut
                conn.send(b"BDAT %d\r\n" % cut + message[:cut] +
                          b"BDAT %d LAST\r\n" % (len(message) - cut) + message[cut:short])
            else:
                conn.send(envelope_commands(ident, rcpts) + b"DATA\r\n")
                replies = [conn.reply() for _ in range(len(rcpts) + 2)]
                check_replies(replies, "envelope")
                stuffed = dot_stuff(message)
                if variant == "dot":         # everything but the end: CRLF "." or CRLF ".\r"
                    conn.send(stuffed + rng.choice([b".", b".\r"]))
                else:
                    conn.send(stuffed[:rng.randint(0, len(stuffed) - 1)])
            how = rng.choice(["close", "reset", "halfclose"])
            if how == "halfclose":           # say EOF, then listen for a (wrong) 250
                conn.sock.shutdown(socket.SHUT_WR)
                conn.sock.settimeout(3.0)
                try:
                    while True:
                        code, text = conn.reply()
                        if code == 250 and b"queued" in text:
                            with shared.lock:
                                shared.abort_250.append(ident)
                except (TempFail, PermFail, OSError):
                    pass
            conn.close(reset=(how == "reset"))
            shared.count_done()
            return
        except (TempFail, OSError) as e:
            if conn is not None:
                conn.close()
            with shared.lock:
                shared.retries += 1
                key = "abort: " + temp_key(e)
                shared.temp_reasons[key] = shared.temp_reasons.get(key, 0) + 1
            time.sleep(rng.uniform(0.01, 0.08))
        except PermFail as e:
            if conn is not None:
                conn.close()
            shared.fail("%s (abort): permanent failure: %s" % (ident, e))
            return
    shared.fail("%s (abort): could not even start the message" % ident)


def client_thread(shared, port, seed, index, work, work_lock):
    rng = random.Random("%d:client:%d" % (seed, index))
    state = {"conn": None, "seed": seed}
    try:
        while not shared.stop.is_set():
            with work_lock:
                if not work:
                    break
                kind, item = work.pop()
            if kind == "M":
                run_message(shared, port, state, item, rng)
            else:
                run_abort(shared, port, state, item, rng)
    except Exception as e:  # a bug in this test must not pass silently
        shared.fail("client %d: unexpected %r" % (index, e))
    finally:
        if state["conn"] is not None:
            state["conn"].close()


def killer_thread(shared, daemon, thresholds, rng, kill_log):
    """Kills ternd once the load reaches each threshold (plus a random delay), restarts it."""
    try:
        for threshold in thresholds:
            with shared.lock:
                while shared.done < threshold and not shared.stop.is_set():
                    shared.progress.wait(0.5)
                    if shared.done < threshold:
                        daemon.check_alive()
            if shared.stop.is_set():
                return
            time.sleep(rng.uniform(0.0, 0.05))
            daemon.kill9()
            with shared.lock:
                kill_log.append(shared.done)
            time.sleep(rng.choice([0.0, 0.0, 0.05, 0.3]))
            daemon.start()
    except Fatal as e:
        shared.fail(str(e))
    except Exception as e:
        shared.fail("killer: unexpected %r" % e)


# ----------------------------------------------------------------------------------------
# Checks

def read_maildirs(root):
    """{user: [(path, bytes)]} of every file in new/ and cur/; {user: n} of files in tmp/."""
    files, tmp = {}, {}
    for user in sorted(os.listdir(root)) if os.path.isdir(root) else []:
        base = os.path.join(root, user)
        files[user] = []
        for sub in ("new", "cur"):
            d = os.path.join(base, sub)
            for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
                with open(os.path.join(d, name), "rb") as f:
                    files[user].append((os.path.join(sub, name), f.read()))
        t = os.path.join(base, "tmp")
        tmp[user] = len(os.listdir(t)) if os.path.isdir(t) else 0
    return files, tmp


def spool_leftovers(spool):
    """What a drained spool still holds besides its log (reported, not failed: ternd may
    remove external bodies lazily): files in body/ and tmp/, and the log's segment count."""
    counts = {}
    for sub in ("body", "tmp", "log"):
        d = os.path.join(spool, sub)
        counts[sub] = len(os.listdir(d)) if os.path.isdir(d) else 0
    return "%(body)d file(s) in body/, %(tmp)d in tmp/, %(log)d log segment(s)" % counts


def check_file(seed, user, data, problems):
    """(id, queue id of its Received header) of a delivered file, after checking its
    content; None when it is broken."""
    cut = data.find(b"\r\n\r\n")
    if cut < 0:
        problems.append("no header/body separator")
        return None
    head, body = data[:cut + 2], data[cut + 4:]
    m = SUBJECT_RE.search(head)
    if not m:
        ids = ID_RE.findall(data)
        problems.append("no intact Subject (ids seen: %s)" % sorted(set(i.decode() for i in ids)))
        return None
    ident = m.group(1).decode()
    if not re.search(rb"^Delivered-To: %s@localhost\r$" % user.encode(), head, re.M):
        problems.append("%s: no Delivered-To: %s@localhost" % (ident, user))
    expected = make_body(seed, ident)
    digest = hashlib.sha256(body).hexdigest()
    if body != expected or digest != m.group(2).decode() or len(body) != int(m.group(3)):
        problems.append("%s: body differs (len %d, expected %d; sha256 %s, expected %s)"
                        % (ident, len(body), len(expected), digest[:16], m.group(2).decode()[:16]))
        return None
    q = QUEUE_ID_RE.search(head)
    if not q:
        problems.append("%s: no Received header naming a queue id" % ident)
        return None
    return ident, q.group(1).decode()


def verify(args, shared, daemon, workdir, kill_budget):
    failures = []
    files, tmp = read_maildirs(os.path.join(workdir, "mail"))
    copies = {}             # (user, id) -> count
    qids = {}               # (user, id) -> queue ids of the delivered copies
    aborted = set(shared.aborted)
    seen_ids = set()
    for user, entries in files.items():
        if user not in USERS:
            failures.append("unexpected Maildir %r" % user)
        for name, data in entries:
            problems = []
            checked = check_file(args.seed, user, data, problems)
            for found in set(ID_RE.findall(data)):
                seen_ids.add(found.decode())
            for p in problems:
                failures.append("CORRUPT %s/%s: %s" % (user, name, p))
            if checked is not None:
                ident, qid = checked
                copies[(user, ident)] = copies.get((user, ident), 0) + 1
                qids.setdefault((user, ident), []).append(qid)
    expected = set()
    for ident, acks in shared.acked.items():
        for _, rcpts in acks:
            for r in rcpts:
                expected.add((r, ident))
    lost = sorted(expected - set(copies))
    for user, ident in lost[:20]:
        acks = shared.acked[ident]
        failures.append("LOST %s for %s (ACKED as %s); ternd log: %s" % (
            ident, user, ", ".join(q for q, _ in acks),
            " | ".join("#%d %s" % hit for q, _ in acks for hit in daemon.grep_logs(q))[:1500]))
    if len(lost) > 20:
        failures.append("... and %d more lost" % (len(lost) - 20))
    # The very transaction that got the 250 must be delivered, not only an earlier attempt
    # of the same message whose 250 was lost.
    txn_lost = []
    for ident, acks in sorted(shared.acked.items()):
        for qid, rcpts in acks:
            for r in rcpts:
                if (r, ident) in copies and qid not in qids[(r, ident)]:
                    log = " | ".join("#%d %s" % h for h in daemon.grep_logs(qid))[:1200]
                    txn_lost.append("LOST transaction %s of %s for %s (ACKED; delivered copies "
                                    "came from %s); ternd log: %s"
                                    % (qid, ident, r, qids[(r, ident)], log))
    failures.extend(txn_lost[:20])
    if len(txn_lost) > 20:
        failures.append("... and %d more lost transactions" % (len(txn_lost) - 20))
    unexpected = sorted(k for k in copies if k not in expected)
    for user, ident in unexpected:
        if ident not in aborted:
            failures.append("UNEXPECTED %s in %s's Maildir (never ACKED, not aborted)"
                            % (ident, user))
    leaked = sorted(aborted & seen_ids)
    for ident in leaked[:20]:
        failures.append("ABORTED message %s was delivered" % ident)
    for ident in shared.abort_250:
        failures.append("ABORTED message %s got a 250 after an incomplete DATA/BDAT" % ident)
    dups = {k: n for k, n in copies.items() if n > 1}
    for (user, ident), n in sorted(dups.items()):
        if n > kill_budget + 2:
            failures.append("%s delivered %d times to %s (limit %d)"
                            % (ident, n, user, kill_budget + 2))
    redelivered = sum(1 for k in dups if len(set(qids[k])) < len(qids[k]))
    retried = sum(1 for k in dups if len(set(qids[k])) > 1)
    return failures, copies, dups, tmp, expected, (redelivered, retried)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("ternd")
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--kills", type=int, default=8)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--threads", type=int, default=24)
    parser.add_argument("--aborts", type=int, default=None, help="default: messages/20")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args()
    aborts = args.messages // 20 if args.aborts is None else args.aborts
    binary = os.path.abspath(args.ternd)
    if not os.access(binary, os.X_OK):
        print("FAIL: %s is not an executable" % binary)
        return 2

    started = time.monotonic()
    rng = random.Random(args.seed)
    workdir = tempfile.mkdtemp(prefix="tern-durability-")
    # Below the ephemeral range: while ternd is down, a client's connect could otherwise be
    # given the listening port as its own source port (a TCP self-connect) and hold it, and
    # the restart would fail to bind. Not from the seeded RNG: parallel runs must differ.
    port = free_port()
    daemon = Daemon(binary, workdir, write_config(workdir, port))

    # The work: N messages (1 to 3 recipients, 20% BDAT) and the aborts, shuffled.
    work = []
    for i in range(args.messages):
        r = rng.random()
        rcpts = [rng.choice(USERS)] if r < 0.85 else rng.sample(USERS, rng.randint(2, 3))
        work.append(("M", (msg_id(args.seed, "M", i), rcpts, rng.random() < 0.2)))
    for i in range(aborts):
        work.append(("A", (msg_id(args.seed, "A", i), [rng.choice(USERS)],
                           rng.choice(["data", "data", "dot", "bdat"]))))
    rng.shuffle(work)
    total_ops = len(work)
    # All kills but the last land during the load; the last one while the backlog drains
    # (when most local deliveries happen), so both halves of the queue get crashed.
    load_kills = max(args.kills - 1, 0) if args.kills > 1 else args.kills
    drain_kill = args.kills - load_kills
    thresholds = sorted(int(total_ops * rng.uniform(0.05, 0.92)) for _ in range(load_kills))
    shared = Shared(total_ops)
    kill_log = []
    failures = []
    drained = None
    status = None
    leftovers = None
    try:
        daemon.start()
        work_lock = threading.Lock()
        clients = [threading.Thread(target=client_thread,
                                    args=(shared, port, args.seed, i, work, work_lock))
                   for i in range(args.threads)]
        killer = threading.Thread(target=killer_thread,
                                  args=(shared, daemon, thresholds, random.Random(args.seed + 1),
                                        kill_log))
        killer.start()
        for t in clients:
            t.start()
        for t in clients:
            t.join()
        killer.join()               # every threshold is reached once the load is done
        load_done = time.monotonic()
        if not shared.stop.is_set() and daemon.kills < load_kills:
            shared.fail("only %d of %d kills happened" % (daemon.kills, load_kills))
        failures.extend(shared.errors)
        if not shared.errors:
            for _ in range(drain_kill):
                time.sleep(rng.uniform(0.05, 0.6))
                daemon.kill9()
                kill_log.append("drain+%.2fs" % (time.monotonic() - load_done))
                daemon.start()
            daemon.check_alive()
            spool = os.path.join(workdir, "spool")
            deadline = time.monotonic() + DRAIN_TIMEOUT
            while spool_ids(spool) and time.monotonic() < deadline:
                time.sleep(0.1)
            left = spool_ids(spool)
            drained = time.monotonic() - load_done
            if left:
                failures.append("spool log still has %d live message(s) %.0fs after the load "
                                "(%s)" % (len(left), DRAIN_TIMEOUT, ", ".join(left[:6])))
            leftovers = spool_leftovers(spool)
            status = daemon.terminate()
            if status != 0:
                failures.append("ternd exited with status %s on SIGTERM" % status)
    except Fatal as e:
        failures.append(str(e))
    finally:
        shared.stop.set()
        daemon.kill_quietly()

    if drained is None and failures:
        failures.append("(the queue was not drained: LOST below may only be undelivered)")
    more, copies, dups, tmp, expected, causes = verify(args, shared, daemon, workdir, args.kills)
    failures.extend(more)
    elapsed = time.monotonic() - started

    acked_ids = len(shared.acked)
    print("durability_crash: seed %d, %d messages + %d aborts, %d threads, %d kills at ops %s"
          % (args.seed, args.messages, aborts, args.threads, daemon.kills, kill_log))
    print("  ACKED %d ids (%d deliveries expected), aborted %d, retries %d"
          % (acked_ids, len(expected), len(shared.aborted), shared.retries))
    for reason, n in sorted(shared.temp_reasons.items(), key=lambda kv: -kv[1])[:6]:
        print("    retry reason x%d: %s" % (n, reason))
    print("  Maildir: %d distinct deliveries, %d files; %d delivered more than once "
          "(max %d copies);"
          " %d files left in tmp/"
          % (len(copies), sum(copies.values()), len(dups), max(dups.values(), default=1),
             sum(tmp.values())))
    print("    duplicates: %d with one queue id delivered twice (redelivery after recovery), "
          "%d with several queue ids (250 lost, client retried)" % causes)
    recovered = daemon.grep_logs("queue: recovered")
    print("  ternd starts %d; recovered per start: %s" % (daemon.starts, [
        int(m.group(1)) for _, l in recovered for m in [re.search(r"recovered (\d+)", l)] if m]))
    errors = daemon.grep_logs(" error ")
    if errors:
        print("  ternd error lines: %d, e.g.: %s" % (len(errors), errors[0][1][:200]))
    if drained is not None:
        print("  queue drained %.1fs after the load; SIGTERM exit status %s" % (drained, status))
        print("  spool after the drain: %s" % leftovers)
    print("  elapsed %.1fs; work folder %s" % (elapsed, workdir))
    if failures:
        print("FAIL: %d problem(s)" % len(failures))
        for f in failures[:40]:
            print("  - " + f)
        print("  (work folder kept for inspection: %s)" % workdir)
        return 1
    if not args.keep:
        shutil.rmtree(workdir, ignore_errors=True)
    print("PASS")
    return 0


if __name__ == "__main__":
    sys.exit(main())
