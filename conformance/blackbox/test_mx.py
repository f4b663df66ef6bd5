"""Black-box tests of ternd's MX delivery (issue 7) through a real unbound.

A local unbound (dns_fixture.Unbound) serves the test zones on 127.0.0.1:<port> and refuses
every other name; ternd's resolver is `type = "custom"` pointed at it. MX delivery always
connects to port 25, so the MX hosts are smtp-sink instances on 127.0.0.2:25, 127.0.0.3:25
and 127.0.0.4:25 (Linux routes all of 127.0.0.0/8 to lo; the tests run as root). Nothing
outside 127.0.0.0/8 is ever contacted. BLACKBOX_MX_PREFIX="127.0.9." moves the sinks to
127.0.9.2-4, for two runs at once; a sink address already in use fails the test clearly.

The local domain is origin.test (alice); example.net and the example.org domains are not
local, so their recipients go to MX by the default next-hop (example.test too: libunbound
would answer .test itself, which ternd's custom resolver mode turns off). alice submits on
the submission listener with STARTTLS and AUTH, so her bounces land in her Maildir.

Run with `TERND=/path/to/ternd python3 -m unittest -v test_mx` (root). Every peer is
stopped by its pid in the test's cleanups. A test that shows a bug in ternd stays strict and
is marked expectedFailure with "BUG:".
"""
import os
import re
import shutil
import socket
import sys
import tempfile
import time
import unittest
from unittest import mock

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dns_fixture  # noqa: E402
from dns_fixture import Unbound  # noqa: E402
from harness import Client, Ternd, make_cert, plain_b64  # noqa: E402
from peers import (LogOnFailure, SmtpSink, crlf, envelope, spool_ids,  # noqa: E402
                   split_first_header, split_sink_dump, stuff, unfold, wait_until)

CERT_DIR = None
CERT = None

# The MX hosts' addresses. BLACKBOX_MX_PREFIX (e.g. "127.0.9.") moves them elsewhere in
# 127.0.0.0/8 so that two runs at once (each needs port 25 there) do not collide.
MX_PREFIX = os.environ.get("BLACKBOX_MX_PREFIX", "127.0.0.")
if not re.match(r"^127\.\d{1,3}\.\d{1,3}\.$", MX_PREFIX):
    raise RuntimeError("BLACKBOX_MX_PREFIX must look like 127.N.N.: %r" % MX_PREFIX)
MX1, MX2, MX3 = MX_PREFIX + "2", MX_PREFIX + "3", MX_PREFIX + "4"
SPREAD_DOMAINS = ["d%02d.spread.example.org" % i for i in range(1, 21)]


def preference_zone(domain):
    """Two MX of different preference; "nosuch.<domain>" is in the zone but has no record
    at all, so unbound answers NXDOMAIN for it."""
    return [(domain, "MX", "10 mx1.%s." % domain), (domain, "MX", "20 mx2.%s." % domain),
            ("mx1." + domain, "A", MX1), ("mx2." + domain, "A", MX2)]


# The MX tests use RFC 2606's example.net / example.org, not example.test: libunbound (in
# ternd) answers every name under "test." with NXDOMAIN from its built-in default zones
# without asking resolver.custom (see test_example_test_resolves_through_custom_resolver).
# Nothing leaves 127.0.0.0/8 either way: ternd asks only unbound on 127.0.0.1, which
# serves these zones and refuses everything else.
ZONES = {
    "example.net": preference_zone("example.net"),             # tests 1, 2, 3, 5, 7
    "example.test": preference_zone("example.test"),           # the brief's own domain
    # Test 4: a null MX, and an A record that a wrong fallback to the domain would use.
    "nullmx.example.org": [("nullmx.example.org", "MX", "0 ."),
                           ("nullmx.example.org", "A", MX3)],
    # Test 6: no MX (NODATA), only an A record: the implicit MX.
    "aonly.example.org": [("aonly.example.org", "A", MX3)],
    # Test 8: twenty domains, each with two MX at preference 10.
    "spread.example.org": [("mxa.spread.example.org", "A", MX1),
                           ("mxb.spread.example.org", "A", MX2)]
    + [(d, "MX", "10 mxa.spread.example.org.") for d in SPREAD_DOMAINS]
    + [(d, "MX", "10 mxb.spread.example.org.") for d in SPREAD_DOMAINS],
}

DIRECTORY = ('[directory.local]\ntype = "memory"\nlookup.domains = ["origin.test"]\n'
             'principals = [{ name = "alice", secret = "{PLAIN}alice-pw", '
             'email = ["alice@origin.test"] }]\n')


def mx_config(dns_port, retry='["1s"]'):
    return ('[resolver]\ntype = "custom"\ncustom = ["127.0.0.1:%d"]\ntimeout = "2s"\n\n'
            '[queue.outbound.tls]\nmta-sts = "disable"\ndane = "disable"\n\n'
            '[queue.schedule]\nretry = %s\n' % (dns_port, retry))


def setUpModule():
    global CERT_DIR, CERT
    if os.geteuid() != 0:  # an error, not a skip: a skipped MX suite would look green
        raise RuntimeError("MX delivery connects to port 25 (127.0.0.2-4): run as root")
    CERT_DIR = tempfile.mkdtemp(prefix="mx-bb-cert-")
    CERT = make_cert(CERT_DIR)


def tearDownModule():
    if CERT_DIR:
        shutil.rmtree(CERT_DIR, ignore_errors=True)


def message(subject, rcpt):
    return crlf("From: Alice <alice@origin.test>\n"
                "To: <%s>\n"
                "Subject: %s\n"
                "Message-ID: <%s@origin.test>\n"
                "\n"
                "first line\n"
                ".leading dot\n"
                ".\n"
                "\n"
                "  spaces and a tab\there  \n"
                "last line\n" % (rcpt, subject, re.sub(r"[^a-z0-9]", "-", subject.lower())))


# ternd's Received for alice's submission (STARTTLS + AUTH: ESMTPSA, RFC 3848).
RECEIVED_RE = (r"^Received: from client\.example\.net \(\[127\.0\.0\.1\]\) by mx\.example\.test "
               r"\(Tern\) with ESMTPSA id %s \(using TLSv1\.[23] with cipher \S+ \(\d+ bits\)\) "
               r"for <%s>; ")


class MxCase(LogOnFailure, unittest.TestCase):

    # ---- peers, each stopped by pid in the cleanups ------------------------------------
    def dns(self, port=None):
        """unbound with ZONES; on `port` when given (to bring DNS back on the port ternd
        already uses), else on a free one."""
        u = Unbound(ZONES)
        self.addCleanup(u.cleanup)
        self.addCleanup(u.stop)
        if port is None:
            u.start()
        else:
            with mock.patch.object(dns_fixture, "free_port", return_value=port):
                u.start()
        return u

    def sink(self, host, flags=()):
        """smtp-sink on host:25 with -v, so that its log has one "connect (" line per
        connection; the readiness probe's connection is waited for and counted here."""
        try:  # someone else on host:25 (another run of this suite) would get our mail
            socket.create_connection((host, 25), timeout=1.0).close()
        except OSError:
            pass
        else:
            raise RuntimeError("%s:25 is already in use (another black-box run? set "
                               "BLACKBOX_MX_PREFIX)" % host)
        s = SmtpSink(["-v"] + list(flags), host=host, port=25)
        self.addCleanup(s.cleanup)
        s.start()
        self.assertTrue(wait_until(lambda: self.connections(s) >= 1, timeout=5.0), s.log_text())
        s.probes = self.connections(s)
        return s

    @staticmethod
    def connections(sink):
        return len(re.findall(r": connect \(AF_INET ", sink.log_text()))

    def assert_untouched(self, sink):
        self.assertEqual(sink.probes, self.connections(sink),
                         "%s:25 was contacted:\n%s" % (sink.host, sink.log_text()[-2000:]))
        self.assertEqual([], sink.files())

    def ternd(self, dns_port, retry='["1s"]'):
        t = Ternd({"submission": {}}, extra=mx_config(dns_port, retry), cert=CERT,
                  directory=DIRECTORY, auth_require_on=("submission",))
        self.addCleanup(t.cleanup)
        self.addCleanup(self.dump_log_on_failure, t)
        return t.start()

    # ---- submission: alice, STARTTLS, AUTH PLAIN, one transaction per session ------------
    def submit(self, t, rcpt, msg):
        c = Client(t.port("submission"))
        self.addCleanup(c.close)
        self.assertEqual(220, c.reply()[0])
        self.assertEqual(250, c.ehlo()[0])
        self.assertEqual(220, c.cmd("STARTTLS")[0])
        c.starttls()
        self.assertEqual(250, c.ehlo()[0])
        self.assertEqual((235, "2.7.0 Authentication successful"),
                         c.cmd("AUTH PLAIN " + plain_b64("alice", "alice-pw")))
        self.assertEqual((250, "2.1.0 Sender OK"), c.cmd("MAIL FROM:<alice@origin.test>"))
        self.assertEqual((250, "2.1.5 Recipient OK"), c.cmd("RCPT TO:<%s>" % rcpt))
        self.assertEqual(354, c.cmd("DATA")[0])
        c.send(stuff(msg) + b".\r\n")
        code, text = c.reply_line()
        self.assertEqual(250, code, text)
        match = re.match(r"^2\.0\.0 Ok: queued as ([0-9A-F]{16})$", text)
        self.assertIsNotNone(match, text)
        c.cmd("QUIT")
        c.close()
        return match.group(1)

    # ---- the queue, through the spool ------------------------------------------------
    def wait_spool_empty(self, t, timeout=15.0):
        left = wait_until(lambda: not spool_ids(t.spool), timeout)
        self.assertTrue(left, "spool still holds %r: %r" % (
            spool_ids(t.spool), [envelope(t.spool, i) for i in spool_ids(t.spool)]))

    def wait_rcpt(self, t, queue_id, predicate, timeout=15.0):
        """The (only) recipient's record once predicate(record) holds."""
        def check():
            env = envelope(t.spool, queue_id)
            if env is None or len(env["rcpts"]) != 1:
                return None
            return env["rcpts"][0] if predicate(env["rcpts"][0]) else None
        found = wait_until(check, timeout)
        self.assertIsNotNone(found, "envelope of %s: %r" % (queue_id, envelope(t.spool, queue_id)))
        return found

    # ---- what a sink got -----------------------------------------------------------------
    def dump_of(self, path):
        def complete():  # smtp-sink creates the file first and writes it as data arrives
            with open(path, "rb") as f:
                data = f.read()
            return data if data.endswith(b"\n\n") else None
        return wait_until(complete) or open(path, "rb").read()

    def assert_relayed(self, sink, msg, queue_id, rcpt, before=()):
        """One new dump at the sink: exactly ternd's Received, then msg byte for byte."""
        new = wait_until(lambda: [p for p in sink.files() if p not in before])
        self.assertEqual(1, len(new), "new dumps at %s: %r" % (sink.host, new))
        data = self.dump_of(new[0])
        self.assertNotIn(b"\r", data)
        head, rest = split_sink_dump(data)
        self.assertIn("\nX-Mail-Args: <alice@origin.test>", head)
        self.assertIn("\nX-Rcpt-Args: <%s>" % rcpt, head)
        self.assertIn("\nX-Helo-Args: mx.example.test\n", head)
        received, after = split_first_header(rest)
        self.assertRegex(unfold(received), RECEIVED_RE % (queue_id, re.escape(rcpt)))
        self.assertEqual(msg.replace(b"\r\n", b"\n"), after)

    def one_dsn(self, t):
        dsns = t.wait_messages("alice", 1, timeout=10.0)
        self.assertEqual(1, len(dsns), "no DSN in alice's Maildir")
        with open(dsns[0], "rb") as f:
            return f.read().decode("utf-8", "replace")

    def assert_failure_dsn(self, data, rcpt, status, diagnostic_re, subject):
        self.assertTrue(data.startswith("Return-Path: <>\r\nDelivered-To: alice@origin.test\r\n"),
                        data[:200])
        self.assertRegex(data, r"(?m)^Content-Type: multipart/report; "
                               r"report-type=\"?delivery-status")
        self.assertIn("\r\nFinal-Recipient: rfc822; %s\r\n" % rcpt, data)
        self.assertIn("\r\nAction: failed\r\n", data)
        self.assertIn("\r\nStatus: %s\r\n" % status, data)
        diag = re.search(r"\r\nDiagnostic-Code: ((?:.*)(?:\r\n[ \t].*)*)\r\n", data)
        self.assertIsNotNone(diag, data)
        self.assertRegex(unfold(diag.group(1)), diagnostic_re)
        self.assertIn("Subject: %s" % subject, data)


class MxTests(MxCase):

    # 1. Preference: MX 10 mx1 (127.0.0.2) gets it, MX 20 mx2 (127.0.0.3) is never contacted.
    def check_preference(self, domain):
        dns = self.dns()
        s1, s2 = self.sink(MX1), self.sink(MX2)
        t = self.ternd(dns.port)
        rcpt = "far@" + domain
        msg = message("mx preference", rcpt)
        qid = self.submit(t, rcpt, msg)
        self.wait_spool_empty(t)  # delivered or bounced: then what the sinks saw is final
        self.assert_relayed(s1, msg, qid, rcpt)
        self.assert_untouched(s2)
        self.assertEqual([], t.messages("alice"))
        self.assertIn("queue %s: <%s> delivered: 250 2.0.0 Ok (mx %s, mx1.%s %s:25)\n"
                      % (qid, rcpt, domain, domain, MX1), t.log_text())

    def test_best_preference_gets_the_message(self):
        self.check_preference("example.net")

    def test_example_test_resolves_through_custom_resolver(self):
        self.check_preference("example.test")

    # 2. Fallback: nothing listens on 127.0.0.2:25 (refused), so mx2 (127.0.0.3) gets it.
    def test_refused_first_mx_falls_back_to_the_second(self):
        dns = self.dns()
        s2 = self.sink(MX2)
        with self.assertRaises(ConnectionRefusedError):  # nobody on mx1's address
            socket.create_connection((MX1, 25), timeout=1.0).close()
        t = self.ternd(dns.port)
        msg = message("mx fallback", "far@example.net")
        qid = self.submit(t, "far@example.net", msg)
        self.assert_relayed(s2, msg, qid, "far@example.net")
        self.wait_spool_empty(t)
        # The log names the MX that took it (the refused connection to mx1 is not logged
        # at the default level).
        self.assertIn("queue %s: <far@example.net> delivered: 250 2.0.0 Ok (mx example.net, "
                      "mx2.example.net %s:25)\n" % (qid, MX2), t.log_text())
        self.assertEqual([], t.messages("alice"))

    # 3. mx1 answers 450 to RCPT. The server took the transaction: its 4xx is the reply
    #    for that recipient (RFC 5321 §4.2.5/§6.1: the client does not hand it to another
    #    MX in the same attempt). It stays pending, every attempt went to mx1 only, and mx2
    #    never sees a connection. When mx1 accepts again, the next retry delivers there.
    def test_rcpt_4xx_at_first_mx_stays_pending_not_tried_on_second(self):
        dns = self.dns()
        s1 = self.sink(MX1, ["-r", "RCPT"])
        s2 = self.sink(MX2)
        t = self.ternd(dns.port)
        msg = message("mx rcpt 4xx", "far@example.net")
        qid = self.submit(t, "far@example.net", msg)
        r = self.wait_rcpt(t, qid, lambda r: r["attempts"] >= 2, timeout=10.0)
        self.assertEqual("pending", r["state"])
        self.assertFalse(r["dsn_sent"])
        self.assertEqual("450 4.3.0 Error: command failed", r["last_reply"])
        self.assertGreaterEqual(len(r["history"]), 2, r)
        for a in r["history"]:
            self.assertEqual("mx example.net", a["route"], r)
            self.assertEqual("mx1.example.net %s:25" % MX1, a["host"], r)
            self.assertEqual("450 4.3.0 Error: command failed", a["reply"], r)
        self.assert_untouched(s2)
        self.assertEqual([], t.messages("alice"))
        # mx1 recovers: the retry goes to mx1 again, and delivers.
        s1.stop()
        before = s1.files()  # smtp-sink may dump the refused transaction (pipelined DATA)
        s1.start(["-v"])
        self.assert_relayed(s1, msg, qid, "far@example.net", before=before)
        self.wait_spool_empty(t)
        self.assert_untouched(s2)

    # 4. Null MX ("0 ."): a failure DSN at once, 5.1.10; no sink sees a connection (not
    #    even the domain's own A record, 127.0.0.4).
    def test_null_mx_bounces_at_once(self):
        dns = self.dns()
        sinks = [self.sink(MX1), self.sink(MX2), self.sink(MX3)]
        t = self.ternd(dns.port, retry='["1h"]')  # a retry could not hide in the test's time
        start = time.monotonic()
        self.submit(t, "nobody@nullmx.example.org", message("null mx", "nobody@nullmx.example.org"))
        data = self.one_dsn(t)
        self.assertLess(time.monotonic() - start, 5.0)
        self.assert_failure_dsn(data, "nobody@nullmx.example.org", "5.1.10",
                                r"^smtp; 556 5\.1\.10 .*nullmx\.example\.org", "null mx")
        self.wait_spool_empty(t, timeout=5.0)
        for s in sinks:
            self.assert_untouched(s)

    # 5. NXDOMAIN (a name in example.net's zone with no record): a failure DSN, 5.1.2.
    def test_nxdomain_bounces_with_5_1_2(self):
        dns = self.dns()
        sinks = [self.sink(MX1), self.sink(MX2)]
        t = self.ternd(dns.port, retry='["1h"]')
        start = time.monotonic()
        self.submit(t, "nobody@nosuch.example.net",
                    message("nxdomain", "nobody@nosuch.example.net"))
        data = self.one_dsn(t)
        self.assertLess(time.monotonic() - start, 5.0)
        self.assert_failure_dsn(data, "nobody@nosuch.example.net", "5.1.2",
                                r"^smtp; 550 5\.1\.2 .*nosuch\.example\.net", "nxdomain")
        self.wait_spool_empty(t, timeout=5.0)
        for s in sinks:
            self.assert_untouched(s)

    # 6. No MX, only an A record: the domain itself is the MX (127.0.0.4).
    def test_no_mx_uses_the_a_record(self):
        dns = self.dns()
        s1, s3 = self.sink(MX1), self.sink(MX3)
        t = self.ternd(dns.port)
        msg = message("implicit mx", "far@aonly.example.org")
        qid = self.submit(t, "far@aonly.example.org", msg)
        self.assert_relayed(s3, msg, qid, "far@aonly.example.org")
        self.wait_spool_empty(t)
        self.assert_untouched(s1)

    # 7. DNS down (nothing on the resolver's port): pending, the reason names the MX
    #    lookup; unbound starts on that port and the next retry delivers.
    def test_dns_down_pending_then_delivered_when_dns_is_back(self):
        port = dns_fixture.free_port()
        s1 = self.sink(MX1)
        t = self.ternd(port)
        msg = message("dns down", "far@example.net")
        qid = self.submit(t, "far@example.net", msg)
        r = self.wait_rcpt(t, qid, lambda r: r["attempts"] >= 1, timeout=10.0)
        self.assertEqual("pending", r["state"])
        self.assertFalse(r["dsn_sent"])
        self.assertEqual("451 4.4.0 example.net: MX lookup for example.net failed: MX "
                         "example.net: no answer within 2000 ms", r["last_reply"])
        self.assertEqual("mx example.net", r["history"][-1]["route"])
        self.assertEqual(r["last_reply"], r["history"][-1]["reply"])
        self.assertEqual([], s1.files())
        self.dns(port)
        self.assert_relayed(s1, msg, qid, "far@example.net")
        self.wait_spool_empty(t)
        self.assertEqual([], t.messages("alice"))

    # 8. Equal preferences: 20 messages, each in its own session, to 20 domains that all
    #    have MX 10 mxa (127.0.0.2) and MX 10 mxb (127.0.0.3). ternd keeps a connection
    #    after a transaction (about 5 s) for the next message to the same destination, and
    #    its cache is keyed by the MX domain, looked up before DNS is asked: 20 messages to
    #    ONE domain within 5 s would all ride the first connection, so the test would show
    #    reuse, not randomisation. Different domains with the same MX set each get their
    #    own MX lookup and their own random order (P(all on one host) = 2 * 2**-20), and the
    #    test takes seconds instead of the 100 s that spacing messages 5 s apart would.
    def test_equal_preferences_spread_over_both_hosts(self):
        dns = self.dns()
        s1, s2 = self.sink(MX1), self.sink(MX2)
        t = self.ternd(dns.port)
        for i, domain in enumerate(SPREAD_DOMAINS):
            self.submit(t, "user%d@%s" % (i, domain), message("spread %d" % i, "u@" + domain))
        wait_until(lambda: len(s1.files()) + len(s2.files()) >= 20, timeout=20.0)
        self.wait_spool_empty(t)
        got1, got2 = len(s1.files()), len(s2.files())
        self.assertEqual(20, got1 + got2, (got1, got2))
        self.assertGreaterEqual(got1, 1, (got1, got2))
        self.assertGreaterEqual(got2, 1, (got1, got2))
        # Each message arrived once, to the right recipient.
        rcpts = []
        for path in s1.files() + s2.files():
            head, _ = split_sink_dump(self.dump_of(path))
            rcpts += re.findall(r"^X-Rcpt-Args: <(\S+)>", head, re.M)
        self.assertEqual(sorted("user%d@%s" % (i, d) for i, d in enumerate(SPREAD_DOMAINS)),
                         sorted(rcpts))


if __name__ == "__main__":
    unittest.main()
