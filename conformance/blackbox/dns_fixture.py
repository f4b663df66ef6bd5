"""A local `unbound` DNS server for black-box tests: Unbound(zones) writes an unbound.conf in
a temporary folder and runs `/usr/sbin/unbound -d -c CONF` on 127.0.0.1:<free port> (UDP and
TCP). It answers only the test records it is given (local-zone/local-data); every other name
is REFUSED by `local-zone: "." refuse`, so nothing is ever forwarded or recursed, and its
iterator has no address outside 127.0.0.1 it could be sent to.

    zones = {"example.org": [("example.org", "MX", "10 mx1.example.org."),
                             ("mx1.example.org", "A", "127.0.0.1")],
             "nullmx.example": [("nullmx.example", "MX", "0 .")]}
    with Unbound(zones) as dns:          # start() waits until it answers
        dns.port                         # point ternd's resolver (custom forwarder) here
        rcode, records = query("127.0.0.1", dns.port, "example.org", "MX")

Each zone is served as `static` with an SOA, so an unknown name in it is NXDOMAIN and a
known name with another type is NODATA. stop() sends SIGTERM to the server's own pid
(SIGKILL after a timeout), never by name.

Run this file to see it work: `python3 dns_fixture.py` (raw-UDP and raw-TCP queries, no dig).
"""
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import harness

HOST = "127.0.0.1"
UNBOUND = "/usr/sbin/unbound"
TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "MX": 15, "TXT": 16, "AAAA": 28, "TLSA": 52}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}


def free_port():
    """A port reserved for this process and free for both UDP and TCP on 127.0.0.1."""
    return harness.free_port(udp=True)


def _quote(text):
    if any(c in text for c in '"\\\n\r'):
        raise ValueError("bad character in %r" % text)
    return '"%s"' % text


def _absolute(name):
    return name if name.endswith(".") else name + "."


class Unbound:
    def __init__(self, zones, verbosity=1):
        """zones: {zone name: [(owner, type, rdata text), ...]}, e.g.
        ("example.org", "MX", "10 mx1.example.org.") or ("nullmx.example", "MX", "0 .")."""
        self.zones = zones
        self.verbosity = verbosity
        self.folder = None
        self.port = None
        self.proc = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        self.cleanup()

    def render(self):
        lines = [
            "server:",
            "  interface: %s@%d" % (HOST, self.port),
            "  port: %d" % self.port,
            "  do-ip4: yes",
            "  do-ip6: no",
            "  do-udp: yes",
            "  do-tcp: yes",
            "  interface-automatic: no",
            "  so-reuseport: no",
            "  num-threads: 1",
            '  username: ""',
            '  chroot: ""',
            "  directory: %s" % _quote(self.folder),
            "  pidfile: %s" % _quote(os.path.join(self.folder, "unbound.pid")),
            "  logfile: %s" % _quote(os.path.join(self.folder, "unbound.log")),
            "  use-syslog: no",
            "  verbosity: %d" % self.verbosity,
            "  access-control: 127.0.0.0/8 allow",
            # No validator: it would want a trust anchor and fetch the root's keys.
            '  module-config: "iterator"',
            "  do-not-query-localhost: yes",
            "  minimal-responses: yes",
            # Everything outside the test zones is refused here, before the iterator.
            '  local-zone: "." refuse',
        ]
        for zone, records in self.zones.items():
            origin = _absolute(zone)
            lines.append("  local-zone: %s static" % _quote(origin))
            lines.append("  local-data: %s" % _quote(
                "%s 3600 IN SOA ns.%s hostmaster.%s 1 3600 600 86400 60" % (origin, origin, origin)))
            for owner, rtype, rdata in records:
                lines.append("  local-data: %s" % _quote(
                    "%s 300 IN %s %s" % (_absolute(owner), rtype.upper(), rdata)))
        lines += ["remote-control:", "  control-enable: no", ""]
        return "\n".join(lines)

    def start(self, timeout=10.0):
        if not os.access(UNBOUND, os.X_OK):
            raise RuntimeError("%s is missing: apt-get install unbound" % UNBOUND)
        self.folder = tempfile.mkdtemp(prefix="tern-unbound-")
        self.port = free_port()
        conf = os.path.join(self.folder, "unbound.conf")
        with open(conf, "w") as f:
            f.write(self.render())
        check = subprocess.run([UNBOUND + "-checkconf", conf], capture_output=True, text=True)
        if check.returncode != 0 and os.access(UNBOUND + "-checkconf", os.X_OK):
            raise RuntimeError("unbound.conf refused: " + check.stdout + check.stderr)
        self.stderr = open(os.path.join(self.folder, "stderr.log"), "w")
        self.proc = subprocess.Popen([UNBOUND, "-d", "-c", conf], stdin=subprocess.DEVNULL,
                                     stdout=self.stderr, stderr=subprocess.STDOUT)
        self._wait_answering(timeout)

    def _wait_answering(self, timeout):
        probe = _absolute(next(iter(self.zones), "."))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("unbound exited with %s: %s" % (self.proc.returncode,
                                                                   self.log_text()))
            try:
                query(HOST, self.port, probe, "SOA", timeout=0.2)
                return
            except (OSError, socket.timeout):
                time.sleep(0.05)
        self.stop()
        raise RuntimeError("unbound did not answer within %.0fs: %s" % (timeout, self.log_text()))

    def log_text(self):
        out = ""
        for name in ("stderr.log", "unbound.log"):
            path = os.path.join(self.folder or "", name)
            if os.path.exists(path):
                with open(path, errors="replace") as f:
                    out += f.read()
        return out

    def stop(self, timeout=10.0):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None
        self.stderr.close()

    def cleanup(self):
        if self.folder and not os.environ.get("BLACKBOX_KEEP"):
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder = None


# ---- A small DNS client over raw sockets (no dig, no libraries).

def _encode_name(name):
    out = b""
    for label in name.rstrip(".").split(".") if name.strip(".") else []:
        raw = label.encode("ascii")
        if not 1 <= len(raw) <= 63:
            raise ValueError("bad label in %r" % name)
        out += bytes([len(raw)]) + raw
    return out + b"\0"


def _read_name(msg, pos):
    """(text, position after the name); follows compression pointers (at most 64)."""
    labels, end, jumps = [], None, 0
    while True:
        length = msg[pos]
        if length & 0xC0 == 0xC0:
            if jumps == 64:
                raise ValueError("pointer loop")
            jumps += 1
            if end is None:
                end = pos + 2
            pos = ((length & 0x3F) << 8) | msg[pos + 1]
            continue
        if length == 0:
            return ".".join(labels), (end if end is not None else pos + 1)
        labels.append(msg[pos + 1:pos + 1 + length].decode("ascii", "replace").lower())
        pos += 1 + length


def _rdata_text(msg, rtype, start, length):
    rdata = msg[start:start + length]
    if rtype == TYPES["A"]:
        return socket.inet_ntop(socket.AF_INET, rdata)
    if rtype == TYPES["AAAA"]:
        return socket.inet_ntop(socket.AF_INET6, rdata)
    if rtype == TYPES["MX"]:
        return "%d %s." % (struct.unpack("!H", rdata[:2])[0], _read_name(msg, start + 2)[0])
    if rtype == TYPES["CNAME"]:
        return _read_name(msg, start)[0] + "."
    return rdata.hex()


def parse_response(msg, query_id):
    """(rcode name, [(owner, type name, rdata text)]) from the answer section."""
    rid, flags, qd, an, _ns, _ar = struct.unpack("!HHHHHH", msg[:12])
    if rid != query_id or not flags & 0x8000:
        raise ValueError("not the answer to our query")
    pos = 12
    for _ in range(qd):
        pos = _read_name(msg, pos)[1] + 4
    names = {v: k for k, v in TYPES.items()}
    records = []
    for _ in range(an):
        owner, pos = _read_name(msg, pos)
        rtype, _cls, _ttl, length = struct.unpack("!HHIH", msg[pos:pos + 10])
        pos += 10
        records.append((owner, names.get(rtype, str(rtype)), _rdata_text(msg, rtype, pos, length)))
        pos += length
    return RCODES.get(flags & 0xF, str(flags & 0xF)), records


def query(host, port, name, rtype, tcp=False, timeout=2.0):
    """One query (RD set) to host:port over UDP or TCP: (rcode name, records)."""
    query_id = int.from_bytes(os.urandom(2), "big")
    msg = struct.pack("!HHHHHH", query_id, 0x0100, 1, 0, 0, 0)
    msg += _encode_name(name) + struct.pack("!HH", TYPES[rtype.upper()], 1)
    if tcp:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.sendall(struct.pack("!H", len(msg)) + msg)
            data = b""
            while len(data) < 2 or len(data) < 2 + struct.unpack("!H", data[:2])[0]:
                chunk = s.recv(65535)
                if not chunk:
                    raise OSError("connection closed before the answer")
                data += chunk
            return parse_response(data[2:], query_id)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(msg, (host, port))
        while True:
            data, _peer = s.recvfrom(65535)
            try:
                return parse_response(data, query_id)
            except ValueError:
                continue  # a stray datagram: keep waiting until the timeout


DEMO_ZONES = {
    "example.org": [("example.org", "MX", "10 mx1.example.org."),
                    ("example.org", "MX", "20 mx2.example.org."),
                    ("mx1.example.org", "A", "127.0.0.1"),
                    ("mx2.example.org", "AAAA", "::1")],
    "nullmx.example": [("nullmx.example", "MX", "0 .")],
}


def demo():
    with Unbound(DEMO_ZONES) as dns:
        checks = [
            (("example.org", "MX"), ("NOERROR", [("example.org", "MX", "10 mx1.example.org."),
                                                 ("example.org", "MX", "20 mx2.example.org.")])),
            (("mx1.example.org", "A"), ("NOERROR", [("mx1.example.org", "A", "127.0.0.1")])),
            (("mx2.example.org", "AAAA"), ("NOERROR", [("mx2.example.org", "AAAA", "::1")])),
            (("nullmx.example", "MX"), ("NOERROR", [("nullmx.example", "MX", "0 .")])),
            (("nope.example.org", "MX"), ("NXDOMAIN", [])),
            (("mx1.example.org", "MX"), ("NOERROR", [])),
            (("www.iana.org", "A"), ("REFUSED", [])),
            (("com", "NS"), ("REFUSED", [])),
        ]
        failed = 0
        for tcp in (False, True):
            for (name, rtype), (want_rcode, want_records) in checks:
                rcode, records = query(HOST, dns.port, name, rtype, tcp=tcp)
                ok = rcode == want_rcode and sorted(records) == sorted(want_records)
                failed += not ok
                print("%-4s %-5s %-18s %-8s %s %s" % ("tcp" if tcp else "udp", rtype, name, rcode,
                                                    records, "ok" if ok else "FAILED"))
        print("unbound on %s:%d (pid %d): %s" % (HOST, dns.port, dns.proc.pid,
                                                "all answers as expected" if not failed
                                                else "%d FAILED" % failed))
        return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(demo())
