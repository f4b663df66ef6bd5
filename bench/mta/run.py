#!/usr/bin/env python3
"""ternd side by side with Postfix, on this machine, in one run (issue 9):

  1. relay throughput: smtp-source -> MTA -> smtp-sink, 1 KB and 100 KB, 1/10/50 sessions;
  2. latency from the end of DATA to the 250 (median, p99), 1 and 10 sessions;
  3. resident memory per idle connection (1,000 and 10,000 connections);
  4. the protocol parsers' Google Benchmark figures (JSON files from run-benchmarks).

Prints a table and writes it, with the machine and the date, to --out (docs/benchmarks.md).
BENCH_QUICK=1 (or --quick) runs a smaller version in under a minute. BENCH_KEEP=1 keeps
the temporary folders. Everything listens and connects on 127.0.0.1 only; every process
started here is stopped by its own pid. Run as root (smtp-sink drops to nobody, Postfix's
master needs root) on a machine with the postfix package.

usage: run.py [--build DIR | --ternd PATH] [--gbench-json DIR] [--out FILE] [--json FILE]
              [--quick]
"""
import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True  # no __pycache__ in the checkout
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "conformance", "blackbox"))
sys.path.insert(0, HERE)

import smtp_load  # noqa: E402
from instances import BenchSink, BenchTernd  # noqa: E402
from postfix_instance import Postfix  # noqa: E402
import report  # noqa: E402

SMTP_SOURCE = "/usr/sbin/smtp-source"
STRACE = "/usr/bin/strace"

def _postfix_idle(default):
    """BENCH_POSTFIX_IDLE="1000,10000" measures Postfix at those counts (one smtpd process
    per connection: 10,000 of them need several GB and many pids, so not by default)."""
    text = os.environ.get("BENCH_POSTFIX_IDLE")
    return tuple(int(x) for x in text.split(",") if x) if text else default


# 5 rounds: on the 2-core VM one relay run differs from the next by up to 15%, and the
# median of 3 still moved a ratio by a few tenths between two make bench runs.
FULL = {"relay_counts": {1024: 3000, 102400: 1000}, "sessions": (1, 10, 50), "repeat": 5,
        "latency_samples": 500, "latency_sessions": (1, 10),
        "idle": (1000, 10000), "postfix_idle": _postfix_idle((1000,)), "fsync_messages": 20}
QUICK = {"relay_counts": {1024: 200, 102400: 40}, "sessions": (1, 10, 50), "repeat": 1,
         "latency_samples": 100, "latency_sessions": (1, 10),
         "idle": (1000, 10000), "postfix_idle": _postfix_idle((200,)), "fsync_messages": 10}


def log(text):
    print("[bench] " + text, flush=True)


def wait_for(predicate, timeout, step=0.02):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


# ---- 1. relay throughput -------------------------------------------------------------------

def relay_once(mta, sink, size, sessions, count):
    """smtp-source sends `count` messages of `size` payload octets over `sessions` parallel
    sessions (a new connection per message, smtp-source's default). Returns messages per
    second from the launch of smtp-source to when the sink counted the last message."""
    if not wait_for(mta.queue_empty, 120):
        raise RuntimeError("%s: queue not empty before the run" % mta.name)
    sink.clear()
    cpu_before = mta.cpu_seconds()
    args = [SMTP_SOURCE, "-s", str(sessions), "-m", str(count), "-l", str(size),
            "-M", "client.example.net", "-f", smtp_load.SENDER, "-t", smtp_load.RECIPIENT,
            "127.0.0.1:%d" % mta.smtp_port]
    start = time.time()
    done = subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          timeout=900)
    injected = time.time() - start
    if done.returncode != 0:
        raise RuntimeError("smtp-source -> %s exited %d: %s" % (
            mta.name, done.returncode, done.stdout.decode(errors="replace")[-500:]))
    budget = max(60.0, injected * 4)
    if not wait_for(lambda: sink.count() >= count, budget, step=0.05):
        raise RuntimeError("%s relayed %d of %d messages within %.0fs after injection"
                           % (mta.name, sink.count(), count, budget))
    elapsed = sink.last_mtime() - start
    wait_for(mta.queue_empty, 60)  # the work after the sink's 250 counts as CPU too
    cpu = mta.cpu_seconds() - cpu_before
    return {"rate": count / elapsed, "seconds": elapsed, "inject_seconds": injected,
            "count": count, "cpu_ms_per_msg": cpu * 1e3 / count}


def relay_all(mtas, sink, plan):
    """Every size and concurrency for both MTAs, `repeat` rounds; the figure is the median
    round (the machine's other work shows up as spread between rounds)."""
    runs = {}
    for round_ in range(plan["repeat"]):
        for size, count in plan["relay_counts"].items():
            for sessions in plan["sessions"]:
                # Alternate which MTA goes first, so that neither always runs on the
                # page cache and disk state the other left behind.
                for mta in (mtas if round_ % 2 == 0 else mtas[::-1]):
                    r = relay_once(mta, sink, size, sessions, count)
                    runs.setdefault((mta.name, size, sessions), []).append(r)
                    log("relay %-7s %6d B x %4d, %2d sessions, round %d: %8.1f msg/s "
                        "(%.2fs), CPU %.2f ms/msg" % (mta.name, size, count, sessions,
                                                     round_ + 1, r["rate"], r["seconds"],
                                                     r["cpu_ms_per_msg"]))
    results = {}
    for key, rounds in runs.items():
        rates = sorted(r["rate"] for r in rounds)
        results[key] = {"rate": statistics.median(rates), "rates": rates,
                        "cpu_ms_per_msg": statistics.median(r["cpu_ms_per_msg"]
                                                            for r in rounds)}
    return results


# ---- 2. latency ----------------------------------------------------------------------------

def latency_all(mtas, plan):
    results = {}
    for sessions in plan["latency_sessions"]:
        for mta in mtas:
            if not wait_for(mta.queue_empty, 120):
                raise RuntimeError("%s: queue not empty before the latency run" % mta.name)
            r = smtp_load.latency(mta.smtp_port, sessions, plan["latency_samples"])
            results[(mta.name, sessions)] = r
            log("latency %-7s %2d sessions: median %.2f ms, p99 %.2f ms (%d samples)"
                % (mta.name, sessions, r["median"] * 1e3, r["p99"] * 1e3, r["count"]))
    return results


# ---- 3. memory -----------------------------------------------------------------------------

def status_kb(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError("no %s in /proc/%d/status" % (field, pid))


def pss_kb(pid):
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0


def ternd_idle(sink, count):
    """VmRSS of a fresh ternd before and with `count` idle sessions (KB)."""
    t = BenchTernd(sink.port, max_connections=count + 100)
    try:
        t.start()
        smtp_load.latency(t.port("smtp"), 1, 3)  # one transaction: lazy set-up done
        wait_for(t.queue_empty, 30)
        time.sleep(0.5)
        before = status_kb(t.pid(), "VmRSS")
        idle = smtp_load.IdleConnections(t.port("smtp"), count).open()
        try:
            idle.hold(2.0)
            if t.proc.poll() is not None:
                raise RuntimeError("ternd exited while holding %d connections" % count)
            after = status_kb(t.pid(), "VmRSS")
        finally:
            idle.close()
    finally:
        t.cleanup()
    return {"idle_kb": before, "loaded_kb": after, "per_conn_kb": (after - before) / count}


def postfix_idle(sink, count):
    """Postfix runs one smtpd process per session: their VmRSS (and PSS, which splits shared
    pages fairly) summed, with `count` idle sessions, divided by count."""
    p = Postfix(sink.port, smtpd_limit=count + 100)
    try:
        p.start()
        idle = smtp_load.IdleConnections(p.port, count, parallel=50).open()
        try:
            idle.hold(2.0)
            pids = p.pids("smtpd")
            rss = sum(status_kb(pid, "VmRSS") for pid in pids)
            pss = sum(pss_kb(pid) for pid in pids)
        finally:
            idle.close()
    finally:
        p.cleanup()
    return {"processes": len(pids), "rss_kb": rss, "pss_kb": pss,
            "per_conn_kb": rss / count, "per_conn_pss_kb": pss / count}


def memory_all(sink, plan):
    results = {}
    for count in plan["idle"]:
        r = ternd_idle(sink, count)
        results[("ternd", count)] = r
        log("memory ternd %5d idle: %d -> %d KB, %.1f KB per connection"
            % (count, r["idle_kb"], r["loaded_kb"], r["per_conn_kb"]))
    for count in plan["postfix_idle"]:
        r = postfix_idle(sink, count)
        results[("postfix", count)] = r
        log("memory postfix %5d idle: %d smtpd, RSS %.1f KB / PSS %.1f KB per connection"
            % (count, r["processes"], r["per_conn_kb"], r["per_conn_pss_kb"]))
    return results


# ---- durability check ----------------------------------------------------------------------

def fsync_check(mtas, messages):
    """strace (fsync, fdatasync, sync_file_range; every thread and child process) on each
    MTA while `messages` messages are sent one by one and relayed: the calls per message,
    or None without strace."""
    if not os.path.exists(STRACE):
        return None
    out = {}
    for mta in mtas:
        wait_for(mta.queue_empty, 60)
        trace = tempfile.NamedTemporaryFile(prefix="bench-strace-", delete=False).name
        attach = []
        for pid in mta.trace_pids():
            attach += ["-p", str(pid)]
        tracer = subprocess.Popen([STRACE, "-f", "-qq", "-e", "signal=none", "-o", trace,
                                   "-e", "trace=fsync,fdatasync,sync_file_range"] + attach,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.0)
        smtp_load.latency(mta.smtp_port, 1, messages)
        wait_for(mta.queue_empty, 60)
        time.sleep(0.5)
        tracer.send_signal(signal.SIGINT)
        tracer.wait(20)
        with open(trace) as f:
            calls = [line for line in f if "sync" in line and "resumed>" not in line]
        os.unlink(trace)
        out[mta.name] = len(calls) / messages
        log("durability %-7s %.1f fsync-family calls per message (strace)"
            % (mta.name, out[mta.name]))
    return out


# ---- the MTAs under test -------------------------------------------------------------------

def _stat_cpu(pid, children=False):
    """utime + stime (and cutime + cstime: reaped children) of pid, in seconds."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read()
    fields = fields[fields.rindex(")") + 2:].split()
    ticks = int(fields[11]) + int(fields[12])
    if children:
        ticks += int(fields[13]) + int(fields[14])
    return ticks / os.sysconf("SC_CLK_TCK")


class NoMtaUnderTest:
    """smtp-source straight into the sink: the floor of every relay figure (the client and
    the sink alone, on the same machine at the same moment). An MTA between them cannot go
    faster than this at one session, where each message waits for the previous 250."""
    name = "no-mta"

    def __init__(self, sink):
        self.smtp_port = sink.port

    def queue_empty(self):
        return True

    def cpu_seconds(self):
        return 0.0

    def cleanup(self):
        pass


class TerndUnderTest:
    name = "ternd"

    def __init__(self, sink):
        self.t = BenchTernd(sink.port)

    def start(self):
        self.t.start()
        self.smtp_port = self.t.port("smtp")
        return self

    def queue_empty(self):
        return self.t.queue_empty()

    def trace_pids(self):
        return [self.t.pid()]

    def cpu_seconds(self):
        return _stat_cpu(self.t.pid())

    def cleanup(self):
        self.t.cleanup()


class PostfixUnderTest:
    name = "postfix"

    def __init__(self, sink):
        self.p = Postfix(sink.port)

    def start(self):
        self.p.start()
        self.smtp_port = self.p.port
        return self

    def queue_empty(self):
        return self.p.queue_empty()

    def trace_pids(self):
        # The master and its children (smtpd, cleanup, qmgr, smtp...); -f follows those the
        # master forks during the trace.
        return [self.p.master_pid()] + self.p.pids()

    def cpu_seconds(self):
        """The master with its reaped children, plus the children alive now: a process that
        ends between two readings moves from the second term to the first."""
        total = _stat_cpu(self.p.master_pid(), children=True)
        for pid in self.p.pids():
            try:
                total += _stat_cpu(pid)
            except OSError:
                pass  # ended meanwhile
        return total

    def cleanup(self):
        self.p.cleanup()


def measure(plan):
    sink = BenchSink().start()
    mtas = []
    try:
        mtas = [TerndUnderTest(sink).start(), PostfixUnderTest(sink).start()]
        for mta in mtas:  # warm-up: first sessions and processes are not measured
            smtp_load.latency(mta.smtp_port, 2, 10)
        fsync = fsync_check(mtas, plan["fsync_messages"])
        relay = relay_all(mtas + [NoMtaUnderTest(sink)], sink, plan)
        latency = latency_all(mtas, plan)
        for mta in mtas:
            mta.cleanup()
        mtas = []
        memory = memory_all(sink, plan)
    finally:
        for mta in mtas:
            mta.cleanup()
        sink.cleanup()
    return {"fsync": fsync, "relay": relay, "latency": latency, "memory": memory}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--build", help="build folder holding cmd/ternd")
    ap.add_argument("--ternd", help="the ternd binary (default: BUILD/cmd/ternd)")
    ap.add_argument("--gbench-json", help="folder of Google Benchmark JSON outputs")
    ap.add_argument("--out", help="write the report here (e.g. docs/benchmarks.md)")
    ap.add_argument("--json", help="also write the raw figures here")
    ap.add_argument("--quick", action="store_true", default=bool(os.environ.get("BENCH_QUICK")))
    args = ap.parse_args()
    ternd = args.ternd or (args.build and os.path.join(args.build, "cmd", "ternd"))
    if not ternd or not os.access(ternd, os.X_OK):
        ap.error("no ternd binary: give --build or --ternd")
    for tool in (SMTP_SOURCE, "/usr/sbin/smtp-sink", "/usr/sbin/postfix"):
        if not os.access(tool, os.X_OK):
            ap.error("%s missing: install the postfix package" % tool)
    if os.geteuid() != 0:
        ap.error("run as root (Postfix's master and smtp-sink -u need it)")
    os.environ["TERND"] = os.path.abspath(ternd)
    plan = QUICK if args.quick else FULL
    limit = smtp_load.raise_fd_limit(max(plan["idle"]) + 4096)
    if limit < max(plan["idle"]) + 1024:
        ap.error("RLIMIT_NOFILE is %d: too low for %d idle connections"
                 % (limit, max(plan["idle"])))
    machine = report.machine()
    machine["ternd"] = "%s (built %s)" % (os.environ["TERND"], time.strftime(
        "%Y-%m-%d %H:%M UTC", time.gmtime(os.stat(os.environ["TERND"]).st_mtime)))
    log("%s mode on %s" % ("quick" if args.quick else "full", machine["summary"]))
    started = time.time()
    results = measure(plan)
    gbench = report.gbench(args.gbench_json) if args.gbench_json else []
    text = report.render(machine, plan, results, gbench, args.quick, time.time() - started)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
        log("written to %s" % args.out)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report.raw(machine, results, gbench), f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
