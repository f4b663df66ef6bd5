"""Black-box harness: start a real ternd (and Dovecot) on 127.0.0.1 with free ports and a
temporary configuration, talk to it with raw sockets, and stop it by pid.

Only 127.0.0.1 is ever contacted. Every daemon started here is stopped with SIGTERM by its
own pid (SIGKILL after a timeout), never by name.
"""
import base64
import fcntl
import os
import random
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time

HOST = "127.0.0.1"
DEMO_SHA512 = ("$6$ternDemoSalt0001$k.9YtZB7IgBqI9TyASG/9lhqsD0PsG47k4Sie5bdbksN8RVHJFUuNowCTEkmJ"
               "rJmS1X0SmZ3xSPFlkFFdTPb/0")  # "tern-demo", as in config/default.toml
DEMO_PASSWORD = "tern-demo"


def ternd_binary():
    path = os.environ.get("TERND")
    if not path:
        raise RuntimeError("set TERND to the ternd binary (run.sh does)")
    return path


# Ports handed out by free_port stay reserved for this process's lifetime: an exclusive flock
# on /tmp/tern-test-ports/<port>.lock, released by the kernel when the process ends. ctest runs
# the suites in parallel (blackbox, interop, crash_test, bench peers), and "bind port 0, close,
# hand the number out" let two suites pick the same port: one ternd then failed to bind (exit
# 1) while its test talked to the other suite's ternd. Ports come from below the kernel's
# ephemeral range, so neither bind(0) elsewhere nor a client's source port can take them.
PORT_LOCK_DIR = os.path.join(tempfile.gettempdir(), "tern-test-ports")
_reserved_ports = {}  # port -> open lock file (kept open: closing it releases the flock)


def _ephemeral_low():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


def _bindable(port, udp, host):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    kinds = [socket.SOCK_STREAM] + ([socket.SOCK_DGRAM] if udp else [])
    for kind in kinds:
        with socket.socket(family, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_port(udp=False, host=HOST):
    """A port reserved for this process (see PORT_LOCK_DIR) and bindable on `host` now, for
    TCP (and UDP too with `udp`)."""
    rng = random.SystemRandom()
    low = _ephemeral_low()
    top = low - 1 if low > 12000 else 65535
    bottom = 10000 if top < 65535 else 61000
    os.makedirs(PORT_LOCK_DIR, mode=0o1777, exist_ok=True)
    for _ in range(500):
        port = rng.randint(bottom, top)
        if port in _reserved_ports:
            continue
        lock = open(os.path.join(PORT_LOCK_DIR, "%d.lock" % port), "a")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            lock.close()
            continue
        if not _bindable(port, udp, host):
            lock.close()
            continue
        _reserved_ports[port] = lock
        return port
    raise RuntimeError("no free port found on %s" % host)


def wait_port(port, timeout=10.0, proc=None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError("process exited with %s before port %d opened" % (proc.returncode, port))
        try:
            with socket.create_connection((HOST, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("port %d did not open within %.0fs" % (port, timeout))


def make_cert(folder, cn="localhost"):
    cert = os.path.join(folder, "cert.pem")
    key = os.path.join(folder, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=" + cn],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return cert, key


def client_tls_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def stop_process(proc, timeout=10.0):
    """SIGTERM by pid, SIGKILL by pid on timeout; returns the exit status."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


class Ternd:
    """One ternd process with its own folder, ports and configuration.

    `listeners` maps a listener id to a dict: protocol ("smtp"/"lmtp"), implicit (bool),
    starttls (bool). `extra` is TOML appended to the generated file. `env` adds variables
    to ternd's environment (for "%{env:NAME}%" in the configuration).
    """

    def __init__(self, listeners, extra="", auth_require_on=("submission", "smtps"),
                 directory=None, cert=None, env=None, auth_wait="100ms", server_keys=""):
        self.dir = tempfile.mkdtemp(prefix="ternd-bb-")
        self.spool = os.path.join(self.dir, "spool")
        self.maildir = os.path.join(self.dir, "mail")
        self.ports = {name: free_port() for name in listeners}
        self.listeners = listeners
        self.cert = cert
        self.auth_require_on = auth_require_on
        self.auth_wait = auth_wait
        self.server_keys = server_keys  # lines of the [server] table (TOML)
        self.directory = directory if directory is not None else self.default_directory()
        self.extra = extra
        self.config_path = os.path.join(self.dir, "ternd.toml")
        self.write_config(self.render())
        self.log_path = os.path.join(self.dir, "ternd.log")
        self.proc = None
        self.env = dict(env or {})
        self.ready_seen = 0  # "ready" lines in the log (it is appended to across restarts)

    @staticmethod
    def default_directory():
        return ('[directory.local]\n'
                'type = "memory"\n'
                'lookup.domains = ["example.test"]\n'
                'principals = [\n'
                '  { name = "demo", secret = "%s", email = ["demo@localhost", "demo@example.test"] },\n'
                '  { name = "alice", secret = "{PLAIN}alice-pw", email = ["alice@example.test"] },\n'
                '  { name = "bob", secret = "{PLAIN}bob-pw", email = ["bob@example.test"] },\n'
                ']\n' % DEMO_SHA512)

    def render(self):
        out = ['[server]', 'hostname = "mx.example.test"', self.server_keys, '']
        for name, opts in self.listeners.items():
            out.append('[server.listener.%s]' % name)
            out.append('bind = ["%s:%d"]' % (HOST, self.ports[name]))
            out.append('protocol = "%s"' % opts.get("protocol", "smtp"))
            if opts.get("implicit"):
                out.append('tls.implicit = true')
            if opts.get("starttls") is False:
                out.append('tls.starttls = false')
            out.append('')
        if self.cert:
            out += ['[certificate.main]',
                    'cert = "%%{file:%s}%%"' % self.cert[0],
                    'private-key = "%%{file:%s}%%"' % self.cert[1],
                    '', '[server.tls]', 'certificate = "main"', '']
        if self.auth_require_on:
            cond = " || ".join("listener == '%s'" % n for n in self.auth_require_on)
            out += ['[session.auth]',
                    'require = [{ if = "%s", then = true }, { else = false }]' % cond,
                    'errors.wait = "%s"' % self.auth_wait, '']
        out.append(self.directory)
        out += ['[storage]', 'spool = "%s"' % self.spool, 'maildir = "%s"' % self.maildir, '']
        out.append(self.extra)
        return "\n".join(out) + "\n"

    def write_config(self, text):
        with open(self.config_path, "w") as f:
            f.write(text)

    def start(self):
        self.log = open(self.log_path, "ab")
        args = [ternd_binary(), "--config", self.config_path]
        if os.environ.get("BLACKBOX_DEBUG"):
            args.append("--debug")
        env = dict(os.environ, **self.env) if self.env else None
        self.proc = subprocess.Popen(args, cwd=self.dir, env=env,
                                     stdout=self.log, stderr=subprocess.STDOUT)
        self.wait_ready()
        return self

    def wait_ready(self, timeout=10.0):
        """Wait for ternd's "ready" line (logged after every listener is bound), so that a test
        never talks to whatever else might hold one of its ports; a ternd that exits first
        raises with its log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ready = self.log_text().count(" ready (spool ")
            if ready > self.ready_seen:
                self.ready_seen = ready
                return
            if self.proc.poll() is not None:
                raise RuntimeError("ternd exited with %s before it was ready:\n%s"
                                   % (self.proc.returncode, self.log_text()[-2000:]))
            time.sleep(0.02)
        raise RuntimeError("ternd was not ready within %.0fs:\n%s"
                           % (timeout, self.log_text()[-2000:]))

    def stop(self):
        code = stop_process(self.proc) if self.proc else None
        if self.proc:
            self.log.close()
        return code

    def cleanup(self):
        self.stop()
        if os.environ.get("BLACKBOX_KEEP"):
            return
        shutil.rmtree(self.dir, ignore_errors=True)

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def port(self, name):
        return self.ports[name]

    # --- the local store -------------------------------------------------------------
    def mailbox(self, account):
        return os.path.join(self.maildir, account, "new")

    def messages(self, account):
        folder = self.mailbox(account)
        if not os.path.isdir(folder):
            return []
        return sorted(os.path.join(folder, n) for n in os.listdir(folder))

    def wait_messages(self, account, count, timeout=15.0):
        """Wait until `account` holds at least `count` messages; returns their paths."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            found = self.messages(account)
            if len(found) >= count:
                return found
            time.sleep(0.05)
        return self.messages(account)

    def clear_mailbox(self, account):
        for path in self.messages(account):
            os.unlink(path)


class Dovecot:
    """Dovecot IMAP in the foreground on 127.0.0.1 with a passwd-file in a temp folder."""

    def __init__(self, users, cert=None):
        """`cert` (cert, key) turns on STARTTLS (ssl = yes); clear-text LOGIN stays allowed."""
        self.dir = tempfile.mkdtemp(prefix="dovecot-bb-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        passwd = os.path.join(self.dir, "passwd")
        with open(passwd, "w") as f:
            for user, secret in users.items():
                f.write("%s:%s:::::\n" % (user, secret))
        os.chmod(passwd, 0o644)
        home = os.path.join(self.dir, "home")
        os.mkdir(home)
        os.chmod(home, 0o777)
        self.conf = os.path.join(self.dir, "dovecot.conf")
        with open(self.conf, "w") as f:
            f.write(DOVECOT_CONF % {"dir": self.dir, "port": self.port, "passwd": passwd,
                                    "home": home})
            if cert:
                f.write("ssl = yes\nssl_cert = <%s\nssl_key = <%s\n" % cert)
            else:
                f.write("ssl = no\n")
        self.proc = None

    def start(self):
        self.out = open(os.path.join(self.dir, "foreground.log"), "wb")
        self.proc = subprocess.Popen(["/usr/sbin/dovecot", "-c", self.conf, "-F"],
                                     stdout=self.out, stderr=subprocess.STDOUT)
        wait_port(self.port, proc=self.proc)
        return self

    def stop(self):
        if self.proc is not None:
            stop_process(self.proc)
            self.out.close()
            self.proc = None

    def cleanup(self):
        self.stop()
        if not os.environ.get("BLACKBOX_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


DOVECOT_CONF = """\
protocols = imap
listen = 127.0.0.1
base_dir = %(dir)s/run
state_dir = %(dir)s/state
log_path = %(dir)s/dovecot.log
info_log_path = %(dir)s/dovecot.log
default_internal_user = dovecot
default_login_user = dovenull
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0
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
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %(port)d
  }
  inet_listener imaps {
    port = 0
  }
}
"""


class Client:
    """A raw SMTP/LMTP client over a socket: exact bytes out, parsed replies in."""

    def __init__(self, port, implicit_tls=False, timeout=20.0):
        sock = socket.create_connection((HOST, port), timeout=timeout)
        if implicit_tls:
            sock = client_tls_context().wrap_socket(sock)
        self.sock = sock
        self.buf = b""

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def _line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; unread %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def reply(self):
        """One (possibly multiline) reply: (code, [text lines])."""
        lines = []
        while True:
            line = self._line()
            lines.append(line[4:])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def reply_line(self):
        """(code, 'first text line')."""
        code, lines = self.reply()
        return code, lines[0]

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply_line()

    def has_pending(self, wait=0.3):
        """True when the server sent bytes we have not read within `wait` seconds."""
        if self.buf:
            return True
        self.sock.settimeout(wait)
        try:
            chunk = self.sock.recv(65536)
        except (socket.timeout, ssl.SSLError):
            return False
        finally:
            self.sock.settimeout(20.0)
        self.buf += chunk
        return bool(chunk)

    def starttls(self):
        self.sock = client_tls_context().wrap_socket(self.sock)

    def ehlo(self, name="client.example.net"):
        return self.reply_after("EHLO " + name)

    def reply_after(self, text):
        self.send(text + "\r\n")
        return self.reply()


def plain_b64(user, password):
    return base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()


def b64(text):
    return base64.b64encode(text.encode()).decode()
