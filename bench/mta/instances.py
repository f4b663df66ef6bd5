"""ternd and smtp-sink as the benchmarks run them, built on the black-box harness
(conformance/blackbox/harness.py and peers.py: free ports on 127.0.0.1, temporary folders,
stopped by pid).

ternd relays every recipient: queue.outbound.next-hop = "'relay'" and remote."relay" is
the sink, in clear text, as Postfix's relayhost is. Its queue is the spool log, whose
commit record (envelope and body) is fdatasynced before the 250 by design (docs/spool.md);
queue_empty reads that log (peers.spool_ids). The only limits changed from the defaults
are server.max-connections, server.max-connections-per-ip and its share (every benchmark
client comes from 127.0.0.1; Postfix exempts mynetworks from its per-client limit, so this
keeps the two comparable).
"""
import os
import re
import shutil
import subprocess
import threading
import time

from harness import Ternd
from peers import SMTP_SINK, SmtpSink, spool_ids, wait_tcp

RELAY = """\
[queue.outbound]
next-hop = "'relay'"

[queue.outbound.tls]
mta-sts = "disable"
dane = "disable"

[remote."relay"]
address = "127.0.0.1"
port = %(sink_port)d
protocol = "smtp"

[remote."relay".tls]
implicit = false
starttls = false

[session.rcpt]
relay = true
"""


class BenchTernd(Ternd):
    """A Ternd (harness.py) relaying to 127.0.0.1:sink_port, accepting `max_connections`
    sessions in all and from one IP."""

    def __init__(self, sink_port, max_connections=20000):
        self.max_connections = max_connections
        super().__init__({"smtp": {}}, extra=RELAY % {"sink_port": sink_port},
                         auth_require_on=())

    def render(self):
        text = super().render()
        limits = ("max-connections = %d\nmax-connections-per-ip = %d\n"
                  "max-connections-per-ip-share = 100\n"
                  % (self.max_connections, self.max_connections))
        head = "[server]\n"
        if not text.startswith(head):
            raise RuntimeError("harness.Ternd.render() no longer starts with [server]")
        return head + limits + text[len(head):]

    def pid(self):
        return self.proc.pid

    def queue_empty(self):
        return not spool_ids(self.spool)

    def cleanup(self):
        self.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)


class BenchSink(SmtpSink):
    """peers.SmtpSink counting messages instead of dumping them: `smtp-sink -c` prints a
    running "sess=N quit=N mesg=N" counter, read here by a thread that notes when each new
    message was counted. With a file per message (-d) smtp-sink alone accepts only about
    600-1000 messages per second on the 2-core machine (measured with smtp-source straight
    into it), which capped both MTAs at the same figure; counting, it takes 1,800-3,000.
    The listen backlog is 1024 instead of 10, so that bursts of connections from either MTA
    are not dropped and retried a second later."""

    BACKLOG = "1024"
    COUNTER = re.compile(rb"mesg=(\d+)")

    def start(self, flags=None):
        if flags is not None:
            self.flags = list(flags)
        args = [SMTP_SINK, "-u", "nobody", "-c"]
        args += self.flags + ["%s:%d" % (self.host, self.port), self.BACKLOG]
        self._lock = threading.Lock()
        self._counted = 0
        self._base = 0
        self._last = 0.0
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self._reader = threading.Thread(target=self._read_counter, args=(self.proc,), daemon=True)
        self._reader.start()
        wait_tcp(self.host, self.port, proc=self.proc)
        return self

    def _read_counter(self, proc):
        pending = b""
        fd = proc.stdout.fileno()
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:
                return
            now = time.time()
            pending += chunk
            *lines, pending = re.split(rb"[\r\n]", pending)
            for line in lines:
                m = self.COUNTER.search(line)
                if m:
                    with self._lock:
                        if int(m.group(1)) > self._counted:
                            self._counted = int(m.group(1))
                            self._last = now

    def count(self):
        """Messages accepted since the last clear()."""
        with self._lock:
            return self._counted - self._base

    def last_mtime(self):
        """When the last message was counted (s since the epoch)."""
        with self._lock:
            return self._last

    def clear(self):
        with self._lock:
            self._base = self._counted

    def cleanup(self):
        self.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
