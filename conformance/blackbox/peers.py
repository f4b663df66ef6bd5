"""Peers for the delivery black-box tests: Postfix's smtp-sink (the relay that records every
message), stunnel4 (implicit TLS in front of it), Dovecot LMTP (a real message store), and a
reader of ternd's spool envelopes (<spool>/msg/<ID>.env, runtime/spool_format.hpp).

Only 127.0.0.1 is used. Every process started here is stopped by its own pid (SIGTERM, then
SIGKILL after a timeout), never by name; stop() is safe to call twice and after a failure.
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

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
    """{"id", "from", ..., "rcpts": [{"address", "state", "next", "attempts", "dsn_sent",
    "account", "params", "last_reply", "route", "history"}]}; raises on a file that is not
    the format. A recipient's `route`, `notice` and `attempt` lines follow its `rcpt` line;
    history is [{"at", "route", "host", "reply"}], oldest first."""
    with open(path, "r", encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    if lines[0] != "tern-envelope 1":
        raise AssertionError("%s: first line %r" % (path, lines[0]))
    env = {"rcpts": []}
    for line in lines[1:]:
        if line == "end":
            return env
        fields = line.split(" ")
        if fields[0] == "rcpt":
            if len(fields) != 9:
                raise AssertionError("%s: rcpt line %r" % (path, line))
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
                raise AssertionError("%s: attempt line %r" % (path, line))
            env["rcpts"][-1]["history"].append(
                {"at": int(fields[1]), "route": _unescape(fields[2]),
                 "host": _unescape(fields[3]), "reply": _unescape(fields[4])})
        else:
            env[fields[0]] = _unescape(fields[1])
    raise AssertionError("%s: no 'end' line" % path)


def spool_ids(spool):
    """The ids of the messages in the spool (those whose msg/<ID>.env exists)."""
    folder = os.path.join(spool, "msg")
    if not os.path.isdir(folder):
        return []
    return sorted(n[:-4] for n in os.listdir(folder) if n.endswith(".env"))


def envelope(spool, queue_id):
    """The envelope of queue_id, or None when it has left the spool. ternd replaces the
    file by a rename; a read that still fails to parse is retried a few times."""
    path = os.path.join(spool, "msg", queue_id + ".env")
    for _ in range(5):
        try:
            return read_envelope(path)
        except FileNotFoundError:
            return None
        except (AssertionError, ValueError, IndexError):
            time.sleep(0.02)
    return read_envelope(path)


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
