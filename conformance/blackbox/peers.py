"""Peers for the delivery black-box tests: Postfix's smtp-sink (the relay that records every
message), stunnel4 (implicit TLS in front of it), Dovecot LMTP (a real message store), and a
reader of ternd's spool (the log <spool>/log/*.log of docs/spool.md; its envelopes are the
text of runtime/spool_format.hpp).

Only 127.0.0.1 is used. Every process started here is stopped by its own pid (SIGTERM, then
SIGKILL after a timeout), never by name; stop() is safe to call twice and after a failure.
"""
import os
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zlib

from harness import HOST, free_port, stop_process, wait_port

SMTP_SINK = "/usr/sbin/smtp-sink"
STUNNEL = "/usr/bin/stunnel4"
DOVECOT = "/usr/sbin/dovecot"


def _keep():
    return bool(os.environ.get("BLACKBOX_KEEP"))


class ForegroundPeer:
    """A peer daemon run in the foreground in its own folder (self.dir): its output goes to
    a log file there, stop() ends it by pid, cleanup() also removes the folder (unless
    BLACKBOX_KEEP). Subclasses set self.dir and self.proc = self.out = None, and start
    with _launch(argv, log_name, host, port)."""

    def _launch(self, argv, log_name, host, port):
        self.out = open(os.path.join(self.dir, log_name), "ab")
        self.proc = subprocess.Popen(argv, stdout=self.out, stderr=subprocess.STDOUT)
        wait_tcp(host, port, proc=self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None
        if self.out is not None:
            self.out.close()
            self.out = None

    def cleanup(self):
        self.stop()
        if not _keep():
            shutil.rmtree(self.dir, ignore_errors=True)


class SmtpSink(ForegroundPeer):
    """smtp-sink on 127.0.0.1:port, dumping each transaction to its own file (-d).

    `flags` are extra smtp-sink options, e.g. ["-r", "RCPT"] (4xx), ["-f", "RCPT"] (5xx),
    ["-Q", "MAIL"] (421 and disconnect). restart() keeps the port and the dump folder.
    """

    def __init__(self, flags=(), lmtp=False, host=HOST, port=None):
        """`host`/`port`: where to listen (default 127.0.0.1 and a free port); the MX tests
        use 127.0.0.2:25 and so on, which Linux routes to lo like all of 127.0.0.0/8."""
        self.dir = tempfile.mkdtemp(prefix="smtp-sink-bb-")
        os.chmod(self.dir, 0o755)
        self.dump = os.path.join(self.dir, "dump")
        os.mkdir(self.dump)
        os.chmod(self.dump, 0o777)  # smtp-sink writes as nobody (-u nobody)
        self.host = host
        self.port = port if port is not None else free_port()
        self.flags = list(flags)
        self.lmtp = lmtp
        self.proc = None
        self.out = None

    def start(self, flags=None):
        if flags is not None:
            self.flags = list(flags)
        args = [SMTP_SINK, "-u", "nobody", "-d", os.path.join(self.dump, "msg.")]
        if self.lmtp:
            args.append("-L")
        args += self.flags + ["%s:%d" % (self.host, self.port), "10"]
        return self._launch(args, "sink.log", self.host, self.port)

    def restart(self, flags=()):
        self.stop()
        return self.start(flags)

    def files(self):
        return sorted(os.path.join(self.dump, n) for n in os.listdir(self.dump))

    def log_text(self):
        """What smtp-sink printed; with the -v flag, one "connect (AF_INET ...)" line per
        connection accepted (the readiness probe of start() included)."""
        try:
            with open(os.path.join(self.dir, "sink.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def wait_files(self, count, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.files()) >= count:
                break
            time.sleep(0.05)
        return self.files()


def wait_tcp(host, port, timeout=10.0, proc=None):
    """harness.wait_port for any loopback address (127.0.0.0/8): until host:port accepts."""
    if host == HOST:
        return wait_port(port, timeout, proc)
    if not host.startswith("127."):
        raise ValueError("only loopback addresses: %r" % host)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before %s:%d opened"
                               % (proc.returncode, host, port))
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("%s:%d did not open within %.0fs" % (host, port, timeout))


def split_sink_dump(data):
    """A dump file: (smtp-sink's own header lines, the message as received).

    smtp-sink writes X-Client-Addr, X-Client-Proto, X-Helo-Args, X-Mail-Args, X-Rcpt-Args
    lines, then its three-line Received header, then the message with LF line ends, then
    one empty line (smtp-sink(1), DUMP FILE FORMAT)."""
    lines = data.split(b"\n")
    index = 0
    while lines[index].startswith(b"X-"):
        index += 1
    if not lines[index].startswith(b"Received: "):
        raise AssertionError("no smtp-sink Received at line %d: %r" % (index, lines[index]))
    index += 1
    while lines[index].startswith(b"\t"):
        index += 1
    head = b"\n".join(lines[:index])
    rest = b"\n".join(lines[index:])
    if not rest.endswith(b"\n\n"):
        raise AssertionError("dump does not end with the empty line: %r" % rest[-40:])
    return head.decode(), rest[:-1]


def split_first_header(message):
    """(first header field with its folded lines, the bytes after it); LF line ends."""
    lines = message.split(b"\n")
    index = 1
    while lines[index].startswith((b" ", b"\t")):
        index += 1
    return b"\n".join(lines[:index]).decode(), b"\n".join(lines[index:])


class Stunnel(ForegroundPeer):
    """stunnel4 in the foreground: TLS on 127.0.0.1:port, clear text to connect_port."""

    def __init__(self, connect_port, cert):
        self.dir = tempfile.mkdtemp(prefix="stunnel-bb-")
        self.port = free_port()
        self.conf = os.path.join(self.dir, "stunnel.conf")
        self.log_path = os.path.join(self.dir, "stunnel.log")
        with open(self.conf, "w") as f:
            f.write("foreground = yes\npid =\ndebug = 5\noutput = %s\n\n"
                    "[relay]\naccept = %s:%d\nconnect = %s:%d\ncert = %s\nkey = %s\n"
                    % (self.log_path, HOST, self.port, HOST, connect_port, cert[0], cert[1]))
        self.proc = None
        self.out = None

    def start(self):
        return self._launch([STUNNEL, self.conf], "foreground.log", HOST, self.port)

    def log_text(self):
        try:
            with open(self.log_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


DOVECOT_LMTP_CONF = """\
protocols = lmtp
listen = 127.0.0.1
base_dir = %(dir)s/run
state_dir = %(dir)s/state
log_path = %(dir)s/dovecot.log
info_log_path = %(dir)s/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
postmaster_address = postmaster@example.test
passdb {
  driver = passwd-file
  args = %(passwd)s
}
userdb {
  driver = static
  args = uid=65534 gid=65534 home=%(home)s/%%u
}
first_valid_uid = 1
mail_location = maildir:~/Maildir
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %(port)d
  }
}
"""


class DovecotLmtp(ForegroundPeer):
    """Dovecot LMTP in the foreground on 127.0.0.1:port. `users` are full addresses; the
    static userdb checks existence against the passwd-file (allow_all_users is off), so any
    other recipient is refused at RCPT. `cert` (cert, key) turns STARTTLS on."""

    def __init__(self, users, cert=None):
        self.dir = tempfile.mkdtemp(prefix="dovecot-lmtp-bb-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        passwd = os.path.join(self.dir, "passwd")
        with open(passwd, "w") as f:
            for user in users:
                f.write("%s:{PLAIN}unused-pw:::::\n" % user)
        os.chmod(passwd, 0o644)
        self.home = os.path.join(self.dir, "home")
        os.mkdir(self.home)
        os.chmod(self.home, 0o777)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_LMTP_CONF % {"dir": self.dir, "port": self.port, "passwd": passwd,
                                         "home": self.home})
            if cert:
                f.write("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n" % cert)
            else:
                f.write("ssl = no\n")
        self.proc = None
        self.out = None

    def start(self):
        return self._launch([DOVECOT, "-c", self.conf, "-F"], "foreground.log", HOST, self.port)

    def messages(self, user):
        folder = os.path.join(self.home, user, "Maildir", "new")
        if not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, n) for n in os.listdir(folder))

    def wait_messages(self, user, count, timeout=15.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if len(self.messages(user)) >= count:
                break
            time.sleep(0.05)
        return self.messages(user)

    def log_text(self):
        try:
            with open(os.path.join(self.dir, "dovecot.log"), "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""


# ---- ternd's spool -------------------------------------------------------------------------

def _unescape(token):
    """A field of the envelope format: "-" is empty, %XX is a byte."""
    if token == "-":
        return ""
    out = bytearray()
    i = 0
    raw = token.encode()
    while i < len(raw):
        if raw[i:i + 1] == b"%":
            out.append(int(raw[i + 1:i + 3], 16))
            i += 3
        else:
            out.append(raw[i])
            i += 1
    return out.decode("utf-8", "replace")


def read_envelope(path):
    """The envelope in the file at path (see parse_envelope)."""
    with open(path, "rb") as f:
        return parse_envelope(f.read(), path)


def parse_envelope(data, where="envelope"):
    """{"id", "from", ..., "rcpts": [{"address", "state", "next", "attempts", "dsn_sent",
    "account", "params", "last_reply", "route", "history"}]} of an envelope's bytes; raises
    on a text that is not the format (where names it in the message). A recipient's `route`,
    `notice` and `attempt` lines follow its `rcpt` line; history is [{"at", "route", "host",
    "reply"}], oldest first."""
    lines = data.decode("utf-8", "replace").split("\n")
    if lines[0] != "tern-envelope 1":
        raise AssertionError("%s: first line %r" % (where, lines[0]))
    env = {"rcpts": []}
    for line in lines[1:]:
        if line == "end":
            return env
        fields = line.split(" ")
        if fields[0] == "rcpt":
            if len(fields) != 9:
                raise AssertionError("%s: rcpt line %r" % (where, line))
            env["rcpts"].append({"address": _unescape(fields[1]), "state": fields[2],
                                 "next": int(fields[3]), "attempts": int(fields[4]),
                                 "dsn_sent": fields[5] == "1", "account": _unescape(fields[6]),
                                 "params": _unescape(fields[7]),
                                 "last_reply": _unescape(fields[8]), "route": "",
                                 "history": []})
        elif fields[0] in ("route", "notice") and env["rcpts"]:
            env["rcpts"][-1][fields[0]] = _unescape(fields[1])
        elif fields[0] == "attempt" and env["rcpts"]:
            if len(fields) != 5:
                raise AssertionError("%s: attempt line %r" % (where, line))
            env["rcpts"][-1]["history"].append(
                {"at": int(fields[1]), "route": _unescape(fields[2]),
                 "host": _unescape(fields[3]), "reply": _unescape(fields[4])})
        else:
            env[fields[0]] = _unescape(fields[1])
    raise AssertionError("%s: no 'end' line" % where)


# The spool log (docs/spool.md, adapters/asio/spool_log.hpp): <spool>/log/<16 hex>.log
# segments of records, each a 24-byte header (magic, kind, flags, id_len, envelope_len,
# body_len, crc32 of header[0:20] + id + envelope + body), then id, envelope, body.
LOG_HEADER = struct.Struct("<4sBBHIQI")
LOG_MAGIC = b"TLOG"
LOG_COMMIT, LOG_ENVELOPE, LOG_REMOVE = 1, 2, 3
LOG_FLAG_EXTERNAL_BODY = 1
LOG_SEGMENT_RE = re.compile(r"^[0-9a-f]{16}\.log$")
LOG_ID_RE = re.compile(rb"^[A-Za-z0-9]{1,64}$")
_LOG_CHUNK = 1 << 20
# Segments are append-only, so a prefix once read never changes: path -> ((dev, ino, first
# header), end of the last whole record, [(kind, id, envelope)]). Keeps a poll of a large
# spool cheap.
_segment_cache = {}


def _check_record(path, offset, kind, flags, env_len, body_len):
    """A record whose crc holds but whose fields break the format is ternd's bug, not a torn
    tail: say so rather than guess."""
    bad = None
    if kind == LOG_COMMIT and flags & LOG_FLAG_EXTERNAL_BODY and body_len != 0:
        bad = "external-body commit with body_len %d" % body_len
    elif kind != LOG_COMMIT and (flags != 0 or body_len != 0):
        bad = "kind %d with flags %d, body_len %d" % (kind, flags, body_len)
    elif kind == LOG_REMOVE and env_len != 0:
        bad = "remove with envelope_len %d" % env_len
    if bad:
        raise AssertionError("%s at offset %d: %s (docs/spool.md)" % (path, offset, bad))


def _read_record(f, path, offset):
    """(kind, id, envelope, end offset) of the record at f's position, or None when it is
    not a whole valid record (a torn tail, still being written, or zeros)."""
    head = f.read(LOG_HEADER.size)
    if len(head) < LOG_HEADER.size:
        return None
    magic, kind, flags, id_len, env_len, body_len, crc = LOG_HEADER.unpack(head)
    if magic != LOG_MAGIC or kind not in (LOG_COMMIT, LOG_ENVELOPE, LOG_REMOVE):
        return None
    if not 1 <= id_len <= 64:
        return None
    ident = f.read(id_len)
    if len(ident) < id_len or not LOG_ID_RE.match(ident):
        return None
    env = f.read(env_len)
    if len(env) < env_len:
        return None
    actual = zlib.crc32(env, zlib.crc32(ident, zlib.crc32(head[:20])))
    left = body_len
    while left:
        chunk = f.read(min(left, _LOG_CHUNK))
        if not chunk:
            return None
        actual = zlib.crc32(chunk, actual)
        left -= len(chunk)
    if actual != crc:
        return None
    _check_record(path, offset, kind, flags, env_len, body_len)
    end = offset + LOG_HEADER.size + id_len + env_len + body_len
    return kind, ident.decode("ascii"), env, end


def _segment_records(path):
    """[(kind, id, envelope)] of the whole records of one segment, in order, up to its first
    invalid one; None when the segment no longer exists."""
    try:
        f = open(path, "rb")
    except FileNotFoundError:
        return None
    with f:
        st = os.fstat(f.fileno())
        first = f.read(LOG_HEADER.size)  # with the inode, tells a new file of the same name
        key = (st.st_dev, st.st_ino, first)
        cached_key, offset, records = _segment_cache.get(path, (None, 0, []))
        if cached_key != key or st.st_size < offset:
            offset, records = 0, []
        records = list(records)
        f.seek(offset)
        while True:
            record = _read_record(f, path, offset)
            if record is None:
                break
            kind, ident, env, offset = record
            records.append((kind, ident, env))
            f.seek(offset)
        if records:
            _segment_cache[path] = (key, offset, records)
        return records


def read_spool_log(spool):
    """{id: envelope bytes} of the live messages of the spool's log, replayed as ternd does:
    segments in ascending order, each up to its torn tail; commit makes an id live with its
    envelope (again: a relocation), envelope replaces a live id's, remove ends it. ternd
    writes while this reads: a segment deleted before it could be opened (compaction moved
    its live records to a newer one) makes the whole read start again from a new listing."""
    folder = os.path.join(spool, "log")
    for _ in range(20):
        try:
            names = sorted(n for n in os.listdir(folder) if LOG_SEGMENT_RE.match(n))
        except FileNotFoundError:
            return {}
        live, vanished = {}, False
        for name in names:
            records = _segment_records(os.path.join(folder, name))
            if records is None:
                vanished = True
                continue
            for kind, ident, env in records:
                if kind == LOG_COMMIT:
                    live[ident] = env
                elif kind == LOG_ENVELOPE:
                    if ident in live:
                        live[ident] = env
                else:
                    live.pop(ident, None)
        for path in [p for p in _segment_cache if os.path.dirname(p) == folder
                     and os.path.basename(p) not in names]:
            del _segment_cache[path]
        if not vanished:
            return live
        time.sleep(0.01)
    raise AssertionError("%s: segments kept vanishing while read (20 listings)" % folder)


def spool_ids(spool):
    """The ids of the messages in the spool (live in its log), sorted."""
    return sorted(read_spool_log(spool))


def envelope(spool, queue_id):
    """The envelope of queue_id, or None when it has left the spool. A record in the log is
    only read once whole and its crc holds, so a text that does not parse is ternd's bug:
    no retry (the only race, a compacted segment, is handled by read_spool_log)."""
    data = read_spool_log(spool).get(queue_id)
    if data is None:
        return None
    return parse_envelope(data, "%s: envelope of %s" % (os.path.join(spool, "log"), queue_id))


def wait_until(predicate, timeout=15.0, step=0.05):
    """predicate()'s first true value within timeout, else its last value."""
    deadline = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < deadline:
        time.sleep(step)
        value = predicate()
    return value


# ---- shared by the delivery, MX and queue CLI tests ---------------------------------------

def crlf(text):
    """Text with any line ends -> bytes with CRLF line ends."""
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode()


def stuff(msg):
    """SMTP dot-stuffing (RFC 5321 4.5.2) of a CRLF message."""
    if msg.startswith(b"."):
        msg = b"." + msg
    return msg.replace(b"\r\n.", b"\r\n..")


def unfold(header):
    return re.sub(r"\r?\n[ \t]+", " ", header)


class LogOnFailure:
    """A TestCase mixin: print a ternd's log tail when the test failed."""

    def dump_log_on_failure(self, t):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        failed = bool(result and any(test is self for test, _ in
                                     list(result.failures) + list(result.errors)))
        if failed:
            print("\n--- ternd log (%s) ---\n%s" % (t.dir, t.log_text()[-6000:]), file=sys.stderr)
