"""ternd and smtp-sink as the benchmarks run them, built on the black-box harness
(conformance/blackbox/harness.py and peers.py: free ports on 127.0.0.1, temporary folders,
stopped by pid).

ternd relays every recipient: queue.outbound.next-hop = "'relay'" and remote."relay" is
the sink, in clear text, as Postfix's relayhost is. Its queue is the spool, which fsyncs
the body, the envelope and the folder before the 250 by design (docs/running.md). The only
limits changed from the defaults are server.max-connections and
server.max-connections-per-ip (every benchmark client comes from 127.0.0.1; Postfix
exempts mynetworks from its per-client limit, so this keeps the two comparable).
"""
import os
import shutil
import subprocess

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
    """peers.SmtpSink with a listen backlog of 1024 instead of 10, so that bursts of
    connections from either MTA are not dropped and retried a second later."""

    BACKLOG = "1024"

    def start(self, flags=None):
        if flags is not None:
            self.flags = list(flags)
        args = [SMTP_SINK, "-u", "nobody", "-d", os.path.join(self.dump, "msg.")]
        args += self.flags + ["%s:%d" % (self.host, self.port), self.BACKLOG]
        self.out = open(os.path.join(self.dir, "sink.log"), "ab")
        self.proc = subprocess.Popen(args, stdout=self.out, stderr=subprocess.STDOUT)
        wait_tcp(self.host, self.port, proc=self.proc)
        return self

    def count(self):
        with os.scandir(self.dump) as it:
            return sum(1 for _ in it)

    def last_mtime(self):
        """The latest modification time of a dump file (s since the epoch): when the last
        message was completely received."""
        latest = 0
        with os.scandir(self.dump) as it:
            for entry in it:
                latest = max(latest, entry.stat().st_mtime_ns)
        return latest / 1e9

    def clear(self):
        with os.scandir(self.dump) as it:
            for entry in it:
                os.unlink(entry.path)

    def cleanup(self):
        self.stop()
        if not os.environ.get("BENCH_KEEP"):
            shutil.rmtree(self.dir, ignore_errors=True)
