"""The benchmark report: the machine, the Google Benchmark figures (from their JSON
outputs) and the Markdown written to docs/benchmarks.md. Pure formatting apart from
machine() and gbench(), which read /proc, uname, postconf and the JSON files."""
import datetime
import glob
import json
import os
import platform
import subprocess
import tempfile

TARGET_RELAY = 3.0      # issue 9: relay throughput at least 3x Postfix
TARGET_P99 = 0.5        # p99 end-of-DATA latency at most half of Postfix's
TARGET_IDLE_KB = 32.0   # at most 32 KB per idle connection


def _cpuinfo_model():
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


def _mem_total_gib():
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                return int(line.split()[1]) / (1024 * 1024)
    return 0.0


def _postfix_version():
    try:
        out = subprocess.run(["/usr/sbin/postconf", "-d", "-h", "mail_version"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, timeout=10)
        return out.stdout.decode().strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _filesystem(path):
    """"TYPE on DEVICE (OPTIONS)" of the mount holding path (the longest matching mount
    point in /proc/mounts): where both queues live."""
    best = ("", "unknown", "?", "")
    with open("/proc/mounts") as f:
        for line in f:
            dev, point, kind, opts = line.split()[:4]
            if (path == point or path.startswith(point.rstrip("/") + "/")) and \
                    len(point) >= len(best[0]):
                best = (point, kind, dev, opts)
    return "%s on %s (%s), mounted at %s" % (best[1], best[2], best[3], best[0])


def machine():
    m = {"cpu": _cpuinfo_model(), "cores": os.cpu_count(), "ram_gib": _mem_total_gib(),
         "kernel": platform.release(), "postfix": _postfix_version(),
         "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
         "load_start": os.getloadavg(),
         "filesystem": _filesystem(os.path.realpath(tempfile.gettempdir()))}
    m["summary"] = "%s, %d cores, %.1f GiB RAM, Linux %s" % (
        m["cpu"], m["cores"], m["ram_gib"], m["kernel"])
    return m


def gbench(folder):
    """[(binary, benchmark name, real time ns, bytes/s or None, items/s or None)]."""
    rows = []
    for path in sorted(glob.glob(os.path.join(folder, "*.json"))):
        with open(path) as f:
            data = json.load(f)
        binary = os.path.basename(path)[:-5]
        for b in data.get("benchmarks", []):
            if b.get("run_type", "iteration") != "iteration":
                continue
            scale = {"ns": 1, "us": 1e3, "ms": 1e6, "s": 1e9}[b.get("time_unit", "ns")]
            rows.append((binary, b["name"], b["real_time"] * scale,
                         b.get("bytes_per_second"), b.get("items_per_second")))
    return rows


def _ratio(a, b):
    return a / b if b else float("nan")


def _fmt(value, digits=1):
    return "—" if value is None else "{:,.{}f}".format(value, digits)


def _verdict(ok):
    return "yes" if ok else "**no**"


def relay_rows(plan, relay):
    rows = []
    for size in plan["relay_counts"]:
        for sessions in plan["sessions"]:
            t = relay[("ternd", size, sessions)]["rate"]
            p = relay[("postfix", size, sessions)]["rate"]
            r = _ratio(t, p)
            rows.append(("relay %d KB, %d session%s (msg/s)" % (size // 1024, sessions,
                                                                 "" if sessions == 1 else "s"),
                         _fmt(t), _fmt(p), "%.2f×" % r, "≥ %.0f×" % TARGET_RELAY,
                         _verdict(r >= TARGET_RELAY)))
    for size in plan["relay_counts"]:
        for sessions in plan["sessions"]:
            floor = relay.get(("no-mta", size, sessions))
            if floor is None:
                continue
            p = relay[("postfix", size, sessions)]["rate"]
            rows.append(("no MTA (smtp-source → sink), %d KB, %d session%s (msg/s)"
                         % (size // 1024, sessions, "" if sessions == 1 else "s"),
                         _fmt(floor["rate"]), _fmt(p), "%.2f×" % _ratio(floor["rate"], p),
                         "", ""))
    return rows


def cpu_rows(plan, relay):
    """MTA CPU time per relayed message (every process or thread of the MTA, from the
    launch of smtp-source until its queue is empty), at 10 sessions or the nearest."""
    sessions = min(plan["sessions"], key=lambda n: abs(n - 10))
    rows = []
    for size in plan["relay_counts"]:
        t = relay[("ternd", size, sessions)]["cpu_ms_per_msg"]
        p = relay[("postfix", size, sessions)]["cpu_ms_per_msg"]
        rows.append(("CPU per relayed message, %d KB, %d sessions (ms)" % (size // 1024,
                                                                          sessions),
                     _fmt(t, 2), _fmt(p, 2), "%.2f×" % _ratio(t, p), "", ""))
    return rows


def latency_rows(plan, latency):
    rows = []
    for sessions in plan["latency_sessions"]:
        t = latency[("ternd", sessions)]
        p = latency[("postfix", sessions)]
        label = "end of DATA → 250, %d session%s" % (sessions, "" if sessions == 1 else "s")
        rm = _ratio(t["median"], p["median"])
        rows.append((label + ", median (ms)", _fmt(t["median"] * 1e3, 2),
                     _fmt(p["median"] * 1e3, 2), "%.2f×" % rm, "", ""))
        r99 = _ratio(t["p99"], p["p99"])
        rows.append((label + ", p99 (ms)", _fmt(t["p99"] * 1e3, 2), _fmt(p["p99"] * 1e3, 2),
                     "%.2f×" % r99, "≤ %.1f×" % TARGET_P99, _verdict(r99 <= TARGET_P99)))
    return rows


def memory_rows(plan, memory):
    rows = []
    for count in plan["idle"]:
        t = memory[("ternd", count)]
        p = memory.get(("postfix", count))
        pf = None if p is None else "%s (PSS %s)" % (_fmt(p["per_conn_kb"]),
                                                      _fmt(p["per_conn_pss_kb"]))
        ratio = "" if p is None else "%.3f×" % _ratio(t["per_conn_kb"], p["per_conn_pss_kb"])
        rows.append(("memory per idle connection, %s connections (KB)" % format(count, ","),
                     _fmt(t["per_conn_kb"]), pf or "not measured", ratio,
                     "≤ %.0f KB" % TARGET_IDLE_KB, _verdict(t["per_conn_kb"] <= TARGET_IDLE_KB)))
    for count in plan["postfix_idle"]:
        if count in plan["idle"]:
            continue
        p = memory[("postfix", count)]
        rows.append(("memory per idle connection, %s connections (KB)" % format(count, ","),
                     "—", "%s (PSS %s)" % (_fmt(p["per_conn_kb"]), _fmt(p["per_conn_pss_kb"])),
                     "", "", ""))
    return rows


def gbench_rows(rows):
    out = []
    for binary, name, ns, bps, ips in rows:
        figure = []
        if bps:
            figure.append("%s MB/s" % _fmt(bps / 1e6, 0))
        if ips:
            figure.append("%s M items/s" % _fmt(ips / 1e6, 2))
        figure.append("%s ns/iter" % _fmt(ns, 0))
        out.append(("parser: %s %s" % (binary, name), ", ".join(figure), "—", "", "", ""))
    return out


def table(rows):
    head = ("figure", "ternd", "Postfix", "ternd ÷ Postfix", "target", "met")
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


METHOD = """\
## How each figure is measured

- **Relay throughput**: `smtp-source -s SESSIONS -m COUNT -l SIZE` (a new connection per
  message, its default) → the MTA on 127.0.0.1 → `smtp-sink -c` (one process, counting
  each completed DATA and writing no files: dumping a file per message, smtp-sink alone
  takes only 600-1,000 messages per second here, which capped both MTAs). A message counts
  as relayed when the sink's counter reaches it; the time runs from the launch of
  smtp-source to the moment the counter showed the last message. ternd relays through `queue.outbound.next-hop = "'relay'"` to `remote."relay"`
  (the sink); Postfix is a throwaway instance (own config, queue and data directories in a
  temporary folder, `relayhost = [127.0.0.1]:<sink>`, `postfix -c DIR start|stop`). Both
  keep their default delivery concurrency (20 per destination) and their queue durable:
  ternd appends the message to its spool log and fdatasyncs it before the 250 by design
  (docs/spool.md; messages arriving together share one fdatasync); Postfix's cleanup
  fsyncs each queue file before smtpd answers, and it has no setting to turn that off.
  The run checks both with strace (fsync-family calls per message, below). Each size and
  concurrency is run for both MTAs (which one goes first alternates between rounds), each
  after both queues are empty.
- **No MTA**: the same smtp-source runs straight into the sink, in the same rounds: the
  fastest any relay figure could be on this machine at that moment (its ratio column is
  to Postfix). At one session each message waits for the previous one's 250, so an MTA
  adds its whole per-message time (for ternd, one fdatasync) to this floor.
- **CPU per relayed message**: utime + stime from /proc of ternd (all threads), or of
  Postfix's master, its reaped children and its live children, read before smtp-source
  starts and after the queue is empty, divided by the messages.
- **Latency**: the harness's own asyncio client (bench/mta/smtp_load.py), 1 KB messages,
  sessions that send one message after another; a sample is the time from handing the
  final CRLF.CRLF to the kernel to reading the 250 line. Median and nearest-rank p99. The
  MTA relays those messages to the sink meanwhile.
- **Memory**: a fresh ternd (server.max-connections and max-connections-per-ip raised,
  RLIMIT_NOFILE raised) after one transaction; VmRSS from /proc/PID/status before and with
  N sessions connected, greeted and past EHLO, then idle for 2 s:
  (RSS with N − RSS idle) / N. For Postfix, which runs one smtpd process per session, the
  smtpd processes' VmRSS summed / N, and their PSS (shared pages split between processes)
  summed / N; the ratio compares ternd with Postfix's PSS figure. Postfix is measured at
  1,000 connections only (10,000 smtpd processes take several GB):
  `BENCH_POSTFIX_IDLE=1000,10000` measures both.
- **Parser throughput**: the Google Benchmarks in bench/ (bench_smtp_data,
  bench_smtp_command) from the same `make bench`; Postfix has no counterpart.
"""


def render(machine, plan, results, gbench_list, quick, seconds):
    load_end = os.getloadavg()
    rows = (relay_rows(plan, results["relay"]) + cpu_rows(plan, results["relay"])
            + latency_rows(plan, results["latency"])
            + memory_rows(plan, results["memory"]) + gbench_rows(gbench_list))
    fsync = results.get("fsync")
    if fsync:
        durability = ", ".join("%s %.1f" % (k, v) for k, v in fsync.items())
        durability = "fsync-family calls per message (strace, %d messages): %s." % (
            plan["fsync_messages"], durability)
    else:
        durability = "strace not installed: fsync calls not checked in this run."
    counts = ", ".join("%d × %d KB" % (n, size // 1024)
                       for size, n in plan["relay_counts"].items())
    busy = machine["load_start"][0] > 0.5
    warning = ("**The machine was not quiet** (load average %.2f on %d cores before the run "
               "started): these figures are not final." % (machine["load_start"][0],
                                                          machine["cores"]))
    out = ["# Benchmarks: ternd and Postfix", "",
           "Generated by `make bench` (bench/mta/run.py after the Google Benchmarks); do not "
           "edit by hand.", ""] + ([warning, ""] if busy else []) + [
           "- Date: %s; run took %.0f s%s" % (machine["date"], seconds,
                                               " — **quick mode (BENCH_QUICK=1): small samples, "
                                               "not for comparison**" if quick else ""),
           "- Machine: %s" % machine["summary"],
           "- Load average at start %.2f, at end %.2f (1 min)" % (machine["load_start"][0],
                                                                 load_end[0]),
           "- Queues (ternd's spool, Postfix's queue_directory): %s"
           % machine["filesystem"],
           "- ternd: %s" % machine.get("ternd", "?"),
           "- Postfix %s (Debian package), defaults apart from paths and ports"
           % machine["postfix"],
           "- Messages per relay run: %s; relay figures are the median of %d round%s; "
           "latency samples per row: %d" % (counts, plan["repeat"],
                                           "" if plan["repeat"] == 1 else "s",
                                           plan["latency_samples"]),
           "- Durability: %s" % durability, "",
           table(rows), "", METHOD]
    return "\n".join(out)


def raw(machine, results, gbench_list):
    """The figures as JSON-able data (tuple keys joined with '/'; latency samples in ms)."""
    out = {"machine": {k: v for k, v in machine.items()}, "gbench": gbench_list}
    for part in ("relay", "latency", "memory"):
        section = {}
        for key, value in results[part].items():
            value = dict(value)
            if "samples" in value:
                value["samples"] = [round(x * 1e3, 3) for x in value["samples"]]
            section["/".join(str(k) for k in key)] = value
        out[part] = section
    out["fsync_per_message"] = results.get("fsync")
    return out
