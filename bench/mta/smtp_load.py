"""The benchmark's own SMTP clients (asyncio, 127.0.0.1 only):

- latency(): `sessions` connections, each sending messages one after another over the same
  session (MAIL, RCPT, DATA, body); a sample is the time from the moment the last byte of
  the body (the final CRLF.CRLF) was handed to the kernel to the moment the 250 reply line
  was read. Anything but 250 (or 354 before the body) raises: a refused message is a
  broken run, not a slow one.
- idle_connections(): `count` sessions that are connected, greeted and through EHLO, then
  held open (nothing more is sent) until the returned handle is closed.
"""
import asyncio
import resource
import statistics
import time

HOST = "127.0.0.1"
SENDER = "bench@client.example"
RECIPIENT = "rcpt@remote.example"
# Each line of the body is 76 octets + CRLF, like the Google Benchmark's DATA input.
_LINE = b"The quick brown fox jumps over the lazy dog; the dog sleeps on, 0123456789ab"


def message(size, index):
    """A message with a few headers and a body of `size` octets (CRLF line ends, never a
    line starting with '.', so no dot-stuffing is needed), ending with CRLF.CRLF."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: bench %d\r\nMessage-ID: <bench.%d@client."
            "example>\r\n\r\n" % (SENDER, RECIPIENT, index, index)).encode()
    body = bytearray()
    while len(body) < size:
        body += _LINE[:max(0, min(len(_LINE), size - len(body) - 2))] + b"\r\n"
    return head + bytes(body) + b".\r\n"


async def _reply(reader):
    """One reply, multiline included: (code, last line)."""
    while True:
        line = await reader.readline()
        if not line:
            raise ConnectionError("connection closed while waiting for a reply")
        if len(line) < 4 or line[3:4] != b"-":
            return int(line[:3]), line.decode("ascii", "replace").rstrip()


async def _expect(reader, code, what):
    got, text = await _reply(reader)
    if got != code:
        raise RuntimeError("%s: expected %d, got %r" % (what, code, text))


async def _session(port, count, size, samples, first_index):
    reader, writer = await asyncio.open_connection(HOST, port)
    try:
        await _expect(reader, 220, "greeting")
        writer.write(b"EHLO client.example.net\r\n")
        await _expect(reader, 250, "EHLO")
        for i in range(count):
            body = message(size, first_index + i)
            writer.write(b"MAIL FROM:<%s>\r\n" % SENDER.encode())
            await _expect(reader, 250, "MAIL")
            writer.write(b"RCPT TO:<%s>\r\n" % RECIPIENT.encode())
            await _expect(reader, 250, "RCPT")
            writer.write(b"DATA\r\n")
            await _expect(reader, 354, "DATA")
            writer.write(body)
            await writer.drain()
            start = time.perf_counter()
            await _expect(reader, 250, "end of DATA")
            samples.append(time.perf_counter() - start)
        writer.write(b"QUIT\r\n")
        await _reply(reader)
    finally:
        writer.close()


def latency(port, sessions, total, size=1024):
    """`total` samples (seconds) over `sessions` concurrent sessions: a dict with the raw
    samples, the median and the 99th percentile."""
    per = [total // sessions + (1 if i < total % sessions else 0) for i in range(sessions)]
    samples = []

    async def run():
        await asyncio.gather(*(_session(port, n, size, samples, i * 1000000)
                               for i, n in enumerate(per)))

    asyncio.run(run())
    return {"samples": samples, "median": statistics.median(samples),
            "p99": percentile(samples, 99.0), "count": len(samples)}


def percentile(values, pct):
    """Nearest-rank percentile (the smallest value with at least pct% of values <= it)."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * pct // 100))
    return ordered[int(rank) - 1]


def raise_fd_limit(needed):
    """Raise RLIMIT_NOFILE of this process (and so of the servers it starts afterwards)
    towards `needed`: the hard limit too when allowed (root with CAP_SYS_RESOURCE), else
    the soft limit up to the hard one. Returns the soft limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= needed:
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, max(hard, needed)))
        return needed
    except (ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        return hard


class IdleConnections:
    """`count` greeted sessions after EHLO, held on a private event loop until close()."""

    def __init__(self, port, count, parallel=200):
        self.loop = asyncio.new_event_loop()
        self.writers = []
        self.port = port
        self.count = count
        self.parallel = parallel

    async def _open_one(self, gate):
        async with gate:
            reader, writer = await asyncio.open_connection(HOST, self.port)
            self.writers.append(writer)
            await _expect(reader, 220, "greeting")
            writer.write(b"EHLO client.example.net\r\n")
            await _expect(reader, 250, "EHLO")

    async def _open_all(self):
        gate = asyncio.Semaphore(self.parallel)
        await asyncio.gather(*(self._open_one(gate) for _ in range(self.count)))

    def open(self):
        self.loop.run_until_complete(self._open_all())
        return self

    def hold(self, seconds):
        """Keep the loop turning (nothing is sent) so that the sockets stay serviced."""
        self.loop.run_until_complete(asyncio.sleep(seconds))

    def close(self):
        for writer in self.writers:
            writer.close()
        self.loop.run_until_complete(asyncio.sleep(0.2))
        self.loop.close()
        self.writers = []
