"""Real MTAs for the interop suite: a throwaway Postfix instance and an Exim unpacked from
Debian's packages, each on 127.0.0.1 with its own configuration, queue and data folders
under a temporary folder and its own ports, stopped by pid.

Postfix: `postfix -c DIR start` with a trimmed master.cf (smtpd on a free port, no port 25),
mail for `postfix.test` to Maildirs under DIR/vmail (the virtual delivery agent), every
other domain to `relayhost` (ternd) with STARTTLS required (smtp_tls_security_level =
encrypt); the log goes to DIR/maillog (postlogd). smtp and smtpd log their conversations
with 127.0.0.1 (debug_peer_list): PIPELINING shows in the order of the client's lines, and
the server's lines show the exact MAIL and RCPT commands ternd sent.

Exim: exim4-daemon-light, exim4-base and exim4-config fetched with `apt-get download` into
a cache folder ($TERN_INTEROP_CACHE, default /var/cache/tern-interop) once, unpacked with
`dpkg -x` into a folder of the test module and run from there with -C its own
configuration, -bdf -oX its port, its own spool; Debian's build needs the system user
Debian-exim (prepare.sh makes it, as exim4-base's postinst would).

Only 127.0.0.1 is used. Every daemon is stopped by its own pid (SIGTERM, SIGKILL after a
timeout; Exim's forked queue runners through the process group of the pid we started),
never by name.
"""
import glob
import os
import pwd
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
from harness import free_port, stop_process, wait_port  # noqa: E402
from peers import wait_until  # noqa: E402

NOBODY = pwd.getpwnam("nobody")


def keep():
    return bool(os.environ.get("BLACKBOX_KEEP"))


def read_text(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError:
        return ""


def maildir_files(folder):
    """The files of a Maildir's new/ (and cur/), sorted; [] when it does not exist."""
    found = []
    for sub in ("new", "cur"):
        path = os.path.join(folder, sub)
        if os.path.isdir(path):
            found += [os.path.join(path, n) for n in os.listdir(path)]
    return sorted(found)


def wait_maildir(folder, count, timeout=20.0):
    wait_until(lambda: len(maildir_files(folder)) >= count, timeout)
    return maildir_files(folder)


def stop_pid(pid, timeout=10.0):
    """SIGTERM to one pid we started (read from its pid file), SIGKILL after timeout."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.05)
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def stop_group(pgid, timeout=5.0):
    """SIGTERM to the process group pgid (that of a process we started with
    start_new_session), SIGKILL to it after timeout."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)


# ---- Postfix -----------------------------------------------------------------------------

POSTFIX_MAIN = """\
compatibility_level = 3.6
config_directory = %(dir)s/etc
queue_directory = %(dir)s/queue
data_directory = %(dir)s/data
maillog_file = %(dir)s/maillog
maillog_file_prefixes = %(dir)s
mail_owner = postfix
setgid_group = postdrop
myhostname = pf.postfix.test
mydomain = postfix.test
myorigin = postfix.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtputf8_enable = yes
biff = no
append_dot_mydomain = no
alias_maps =
alias_database =
local_recipient_maps =
relay_domains =
relayhost = %(relayhost)s
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
# Nothing added to what ternd relays (no Date, Message-ID...): byte-identical checks.
local_header_rewrite_clients =
smtpd_tls_cert_file = %(cert)s
smtpd_tls_key_file = %(key)s
smtpd_tls_security_level = may
smtpd_tls_received_header = yes
smtpd_tls_loglevel = 1
smtp_tls_security_level = encrypt
smtp_tls_loglevel = 1
virtual_mailbox_domains = postfix.test
virtual_mailbox_base = %(dir)s/vmail
virtual_mailbox_maps = texthash:%(dir)s/etc/vmailbox
virtual_uid_maps = static:%(uid)d
virtual_gid_maps = static:%(gid)d
virtual_minimum_uid = 1
# Quick retries: a temporary failure is retried within seconds, not minutes.
queue_run_delay = 2s
minimal_backoff_time = 2s
maximal_backoff_time = 4s
"""

# Only the services this instance needs: smtpd on a free port of 127.0.0.1 (no port 25),
# pickup for sendmail -C, virtual(8) for the Maildirs (no local(8)); smtpd and smtp log
# their conversations with 127.0.0.1.
POSTFIX_MASTER = """\
127.0.0.1:%(port)d inet n - n - - smtpd -o debug_peer_list=127.0.0.1 -o debug_peer_level=1
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
tlsmgr    unix - - n 1000? 1 tlsmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp -o debug_peer_list=127.0.0.1 -o debug_peer_level=2
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """A throwaway Postfix: `users` are the local parts of postfix.test that have a Maildir
    (DIR/vmail/<local part>/); `relayhost` is where every other domain goes."""

    def __init__(self, users, cert, relayhost=""):
        self.dir = tempfile.mkdtemp(prefix="postfix-interop-")
        os.chmod(self.dir, 0o755)
        self.etc = os.path.join(self.dir, "etc")
        self.vmail = os.path.join(self.dir, "vmail")
        for sub in ("etc", "queue", "data", "vmail"):
            os.mkdir(os.path.join(self.dir, sub))
        os.chmod(self.vmail, 0o777)
        owner = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.dir, "data"), owner.pw_uid, owner.pw_gid)
        self.port = free_port()
        self.relayhost = relayhost
        self.cert = cert
        self.users = list(users)
        self.running = False
        self.write_config()

    def write_config(self):
        values = {"dir": self.dir, "port": self.port, "relayhost": self.relayhost,
                  "cert": self.cert[0], "key": self.cert[1], "uid": NOBODY.pw_uid,
                  "gid": NOBODY.pw_gid}
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(POSTFIX_MAIN % values)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(POSTFIX_MASTER % values)
        with open(os.path.join(self.etc, "vmailbox"), "w") as f:
            for user in self.users:
                f.write("%s@postfix.test %s/\n" % (user, user))

    def postfix(self, *args, check=True):
        return subprocess.run(["/usr/sbin/postfix", "-c", self.etc] + list(args), check=check,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT)

    def start(self):
        done = self.postfix("start", check=False)
        self.running = True
        if done.returncode != 0:
            raise RuntimeError("postfix start: %s\n%s" % (done.stdout.decode(), self.log_text()))
        wait_port(self.port, timeout=15.0)
        return self

    def master_pid(self):
        text = read_text(os.path.join(self.dir, "queue", "pid", "master.pid")).strip()
        return int(text) if text.isdigit() else None

    def stop(self):
        """`postfix stop` tells the master (by its pid file) to end; if it is still alive
        after that, its pid gets SIGTERM/SIGKILL."""
        if not self.running:
            return
        self.running = False
        pid = self.master_pid()
        self.postfix("stop", check=False)
        if pid:
            stop_pid(pid)

    def cleanup(self):
        self.stop()
        if not keep():
            shutil.rmtree(self.dir, ignore_errors=True)

    def sendmail(self, args, message):
        """Submits through sendmail -C (postdrop into this instance's maildrop)."""
        return subprocess.run(["/usr/sbin/sendmail", "-C", self.etc] + list(args),
                              input=message, check=True, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=30)

    def maildir(self, user):
        return os.path.join(self.vmail, user)

    def messages(self, user):
        return maildir_files(self.maildir(user))

    def wait_messages(self, user, count, timeout=20.0):
        return wait_maildir(self.maildir(user), count, timeout)

    def log_text(self):
        return read_text(os.path.join(self.dir, "maillog"))

    def wait_log(self, pattern, timeout=20.0):
        """The first match of pattern (re.M) in the maillog within timeout, or None."""
        return wait_until(lambda: re.search(pattern, self.log_text(), re.M), timeout)

    def smtpd_sessions(self, helo):
        """The commands Postfix's smtpd read in each session whose client said EHLO helo,
        in order: [[command, ...], ...] (debug_peer_list logs each as "< client: line")."""
        sessions, current = [], {}
        for line in self.log_text().splitlines():
            match = re.search(r"postfix/smtpd\[(\d+)\]: (connect from|< \S+: )(.*)$", line)
            if not match:
                continue
            pid, kind, rest = match.groups()
            if kind == "connect from":
                current[pid] = []
                sessions.append(current[pid])
            elif pid in current:
                current[pid].append(rest)
        return [s for s in sessions if s and s[0].upper() == "EHLO " + helo.upper()]


# ---- Exim --------------------------------------------------------------------------------

EXIM_PACKAGES = ("exim4-daemon-light", "exim4-base", "exim4-config")
EXIM_USER = "Debian-exim"


def exim_cache():
    return os.environ.get("TERN_INTEROP_CACHE", "/var/cache/tern-interop")


def exim_debs():
    """The cached .deb files, fetched with `apt-get download` when missing."""
    folder = os.path.join(exim_cache(), "exim")
    debs = {p: glob.glob(os.path.join(folder, p + "_*.deb")) for p in EXIM_PACKAGES}
    missing = [p for p, found in debs.items() if not found]
    if missing:
        os.makedirs(folder, exist_ok=True)
        subprocess.run(["apt-get", "download"] + missing, cwd=folder, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        debs = {p: glob.glob(os.path.join(folder, p + "_*.deb")) for p in EXIM_PACKAGES}
    return [sorted(found)[-1] for found in debs.values()]


def unpack_exim():
    """Unpacks the three packages into a new folder (mode 0755: the daemon, running as
    Debian-exim, re-executes the set-uid binary from there); returns (folder, binary)."""
    root = tempfile.mkdtemp(prefix="exim-root-interop-")
    os.chmod(root, 0o755)
    for deb in exim_debs():
        subprocess.run(["dpkg", "-x", deb, root], check=True)
    binary = os.path.join(root, "usr", "sbin", "exim4")
    if not os.access(binary, os.X_OK) or not os.stat(binary).st_mode & 0o4000:
        raise RuntimeError("no set-uid exim4 in %s" % root)
    libs = subprocess.run(["ldd", binary], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    missing = [line.split()[0] for line in libs.stdout.decode().splitlines()
               if "not found" in line]
    if missing:
        raise RuntimeError("exim4 needs %s (scripts/install-deps installs the libraries)"
                           % ", ".join(missing))
    return root, binary


EXIM_CONF = """\
exim_path = %(binary)s
primary_hostname = ex.exim.test
qualify_domain = exim.test
spool_directory = %(dir)s/spool
log_file_path = %(dir)s/log/%%slog
pid_file_path = %(dir)s/exim.pid
exim_user = %(exim_user)s
exim_group = %(exim_user)s
never_users = root
trusted_users = root
local_interfaces = 127.0.0.1
daemon_smtp_ports = %(port)d
domainlist local_domains = exim.test
hostlist relay_from_hosts = 127.0.0.1
acl_smtp_rcpt = acl_check_rcpt
acl_smtp_data = acl_check_data
tls_advertise_hosts = *
tls_certificate = %(cert)s
tls_privatekey = %(key)s
smtputf8_advertise_hosts = *
accept_8bitmime = true
dsn_advertise_hosts = *
pipelining_advertise_hosts = *
log_selector = +smtp_connection +received_recipients +tls_cipher +smtp_protocol_error \\
  +delivery_size +outgoing_port +pipelining +smtp_confirmation +received_sender
queue_run_max = 1
retry_interval_max = 5s
ignore_bounce_errors_after = 0s
timeout_frozen_after = 1m

begin acl
acl_check_rcpt:
  accept hosts = :
  deny   local_parts = ^.*[@%%!/|]
  require verify = recipient
  accept domains = +local_domains
  accept hosts = +relay_from_hosts
  deny   message = relay not permitted
acl_check_data:
  accept

# Local parts listed in `users` of exim.test go to Maildirs; every other domain to ternd,
# TLS required, PIPELINING and CHUNKING (BDAT) used when ternd offers them (the default).
begin routers
local_users:
  driver = accept
  domains = +local_domains
  local_parts = %(users)s
  transport = maildir_delivery
  no_more
to_ternd:
  driver = manualroute
  domains = ! +local_domains
  transport = remote_smtp
  route_list = * 127.0.0.1 byname
  self = send

begin transports
remote_smtp:
  driver = smtp
  port = %(relay_port)d
  allow_localhost
  hosts_require_tls = *
maildir_delivery:
  driver = appendfile
  directory = %(dir)s/mail/$local_part_data
  maildir_format
  delivery_date_add
  envelope_to_add
  return_path_add
  user = %(exim_user)s
  group = %(exim_user)s
  mode = 0644

begin retry
*   *   F,1m,1s

begin rewrite
"""


class Exim:
    """Exim from the unpacked packages: its own config (-C), daemon on 127.0.0.1:port
    (-bd -oX), spool and log under its temp folder; `users` are the local parts of
    exim.test with a Maildir (DIR/mail/<local part>/); every other domain goes to
    127.0.0.1:relay_port with TLS required."""

    def __init__(self, binary, users, cert, relay_port=0):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="exim-interop-")
        os.chmod(self.dir, 0o755)
        self.port = free_port()
        self.relay_port = relay_port or free_port()
        for sub in ("spool", "log", "mail"):
            os.mkdir(os.path.join(self.dir, sub))
        user = pwd.getpwnam(EXIM_USER)
        for sub in ("spool", "log", "mail"):
            os.chown(os.path.join(self.dir, sub), user.pw_uid, user.pw_gid)
        # Exim reads the key as Debian-exim after dropping privileges: a copy it may read.
        key = os.path.join(self.dir, "key.pem")
        shutil.copy(cert[1], key)
        os.chown(key, user.pw_uid, user.pw_gid)
        shutil.copy(cert[0], os.path.join(self.dir, "cert.pem"))
        os.chmod(os.path.join(self.dir, "cert.pem"), 0o644)
        self.cert_paths = (os.path.join(self.dir, "cert.pem"), key)
        self.users = list(users)
        self.conf = os.path.join(self.dir, "exim.conf")
        self.write_config()
        self.proc = None

    def write_config(self):
        """(Re)writes exim.conf, e.g. after relay_port was changed."""
        with open(self.conf, "w") as f:
            f.write(EXIM_CONF % {"binary": self.binary, "dir": self.dir, "port": self.port,
                                 "users": " : ".join(self.users),
                                 "relay_port": self.relay_port, "exim_user": EXIM_USER,
                                 "cert": self.cert_paths[0], "key": self.cert_paths[1]})

    def start(self):
        self.out = open(os.path.join(self.dir, "foreground.log"), "wb")
        # -bdf: the daemon stays in the foreground (its pid is ours to stop); -q2s: queue
        # runs every two seconds, so that a deferred message is retried quickly.
        # Its own process group (pgid = its pid): queue runners and deliveries it forked
        # are stopped with it.
        self.proc = subprocess.Popen([self.binary, "-C", self.conf, "-bdf", "-q2s",
                                      "-oX", str(self.port)],
                                     stdout=self.out, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        wait_port(self.port, timeout=15.0, proc=self.proc)
        return self

    def stop(self):
        """SIGTERM to the daemon by pid, then to what is left of its process group (the
        group of the pid we started), SIGKILL after a timeout."""
        if self.proc is not None:
            pgid = self.proc.pid
            stop_process(self.proc)
            stop_group(pgid)
            self.proc = None
            self.out.close()

    def cleanup(self):
        self.stop()
        if not keep():
            shutil.rmtree(self.dir, ignore_errors=True)

    def maildir(self, user):
        return os.path.join(self.dir, "mail", user)

    def messages(self, user):
        return maildir_files(self.maildir(user))

    def wait_messages(self, user, count, timeout=20.0):
        return wait_maildir(self.maildir(user), count, timeout)

    def log_text(self):
        return (read_text(os.path.join(self.dir, "log", "mainlog"))
                + read_text(os.path.join(self.dir, "log", "paniclog"))
                + read_text(os.path.join(self.dir, "foreground.log")))

    def wait_log(self, pattern, timeout=20.0):
        return wait_until(lambda: re.search(pattern, self.log_text(), re.M), timeout)
