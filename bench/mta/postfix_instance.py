"""A throwaway Postfix for the benchmarks: its own config_directory, queue_directory and
data_directory in a temporary folder, smtpd on 127.0.0.1:<free port>, every recipient
relayed to relayhost = [127.0.0.1]:<sink port>. Nothing under /etc/postfix is written or
read for configuration (`postfix -c DIR` as root needs no alternate_config_directories
entry: that check is only made for the set-gid commands postdrop and postqueue).

Postfix stays as shipped where it matters for the comparison: the queue is durable
(cleanup fsyncs each queue file before smtpd answers 250; run.py's fsync_check counts the
calls with strace in every run), qmgr's in_flow_delay and the default destination
concurrency (20, like ternd's queue.outbound.limits.concurrency) are left alone. The
changes are what a throwaway instance needs (paths, port, no chroot, a log file instead of
syslog) and, for the memory test only, a smtpd process limit that holds every idle
connection.

Started with `postfix -c DIR start`, stopped with `postfix -c DIR stop` and then by the
master's own pid (SIGTERM, SIGKILL after a timeout); never by name.
"""
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

from harness import HOST, free_port, wait_port

POSTFIX = "/usr/sbin/postfix"

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = %(dir)s/queue
data_directory = %(dir)s/data
mail_owner = postfix
setgid_group = postdrop
myhostname = pf-bench.example.test
mydomain = example.test
myorigin = example.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
relayhost = [127.0.0.1]:%(sink_port)d
maillog_file = %(dir)s/maillog
maillog_file_prefixes = %(dir)s
biff = no
"""

# Debian's master.cf, trimmed to what relaying needs, chroot off (the temporary queue is not
# a prepared chroot), smtpd on the benchmark port instead of 25.
MASTER_CF = """\
%(host)s:%(port)d inet n - n - %(smtpd_limit)s smtpd
pickup    unix n - n 60 1 pickup
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
showq     unix n - n - - showq
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""


class Postfix:
    """`smtpd_limit`: the smtpd process limit ("-" keeps default_process_limit, 100)."""

    def __init__(self, sink_port, smtpd_limit="-"):
        self.dir = tempfile.mkdtemp(prefix="postfix-bench-")
        os.chmod(self.dir, 0o755)  # the daemons run as postfix and chdir below it
        self.etc = os.path.join(self.dir, "etc")
        for sub in ("etc", "queue", "data"):
            os.mkdir(os.path.join(self.dir, sub))
        owner = pwd.getpwnam("postfix")
        os.chown(os.path.join(self.dir, "data"), owner.pw_uid, owner.pw_gid)
        self.port = free_port()
        values = {"dir": self.dir, "sink_port": sink_port, "host": HOST, "port": self.port,
                  "smtpd_limit": str(smtpd_limit)}
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF % values)
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(MASTER_CF % values)
        self.running = False

    def _postfix(self, *args):
        return subprocess.run([POSTFIX, "-c", self.etc] + list(args), check=False,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)

    def start(self):
        done = self._postfix("start")
        self.running = True
        if done.returncode != 0:
            raise RuntimeError("postfix start failed: %s\n%s"
                               % (done.stdout.decode(errors="replace"), self.log_tail()))
        wait_port(self.port, timeout=20.0)
        return self

    def master_pid(self):
        try:
            with open(os.path.join(self.dir, "queue", "pid", "master.pid")) as f:
                text = f.read().strip()
        except OSError:
            return None
        return int(text) if text.isdigit() else None

    def pids(self, process_name=None):
        """Pids of this instance's processes called `process_name` (children of its master),
        or of all its master's children when process_name is None."""
        master = self.master_pid()
        found = []
        if master is None:
            return found
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open("/proc/%s/stat" % entry) as f:
                    stat = f.read()
            except OSError:
                continue
            name = stat[stat.index("(") + 1:stat.rindex(")")]
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
            if ppid == master and process_name in (None, name):
                found.append(int(entry))
        return found

    def queue_empty(self):
        """No queue file in incoming/active/deferred/maildrop (walked directly: no postqueue,
        whose set-gid check would want this directory in /etc/postfix/main.cf)."""
        for sub in ("maildrop", "incoming", "active", "deferred", "hold"):
            top = os.path.join(self.dir, "queue", sub)
            for _root, _dirs, files in os.walk(top):
                if files:
                    return False
        return True

    def stop(self):
        if not self.running:
            return
        self.running = False
        pid = self.master_pid()
        self._postfix("stop")
        if pid is None:
            return
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline and _alive(pid):
            time.sleep(0.1)
        if _alive(pid):
            os.kill(pid, signal.SIGKILL)

    def cleanup(self):
        self.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)

    def log_tail(self, size=4000):
        try:
            with open(os.path.join(self.dir, "maillog"), "rb") as f:
                return f.read().decode("utf-8", "replace")[-size:]
        except OSError:
            return ""


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
