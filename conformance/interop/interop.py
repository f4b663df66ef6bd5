"""Shared by the interop tests: ternd set up to talk to one real peer, the test messages,
and the checks on what a Maildir holds.

ternd (harness.Ternd from ../blackbox) gets an `smtp` listener (STARTTLS) and a
`submission` listener (STARTTLS, AUTH required), local domain example.test (alice, bob,
demo, and uemlaut whose address is ümlaut@example.test), and one remote, "peer", for every
other domain: the real MTA under test, with STARTTLS and allow-invalid-certs.
"""
import email
import email.policy
import os
import re
import shutil
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))
sys.path.insert(0, HERE)
from harness import Ternd, make_cert  # noqa: E402
from peers import LogOnFailure, crlf, envelope, spool_ids, unfold, wait_until  # noqa: E402,F401

CERT = None  # set by setUpModule of each test module (self-signed, CN=localhost)
TERND_CERT = None  # the same identity with a private (0600) copy of the key, for ternd
_CERT_DIR = None


def make_module_cert():
    global CERT, TERND_CERT, _CERT_DIR
    _CERT_DIR = tempfile.mkdtemp(prefix="interop-cert-")
    os.chmod(_CERT_DIR, 0o755)
    CERT = make_cert(_CERT_DIR)
    # ternd refuses a key file others can read; Postfix's and Exim's unprivileged processes
    # need one they can.
    private_key = os.path.join(_CERT_DIR, "ternd-key.pem")
    shutil.copyfile(CERT[1], private_key)
    os.chmod(private_key, 0o600)
    TERND_CERT = (CERT[0], private_key)
    os.chmod(CERT[1], 0o644)
    return CERT


def remove_module_cert():
    if _CERT_DIR:
        shutil.rmtree(_CERT_DIR, ignore_errors=True)


DIRECTORY = ('[directory.local]\n'
             'type = "memory"\n'
             'lookup.domains = ["example.test"]\n'
             'principals = [\n'
             '  { name = "alice", secret = "{PLAIN}alice-pw", email = ["alice@example.test"] },\n'
             '  { name = "bob", secret = "{PLAIN}bob-pw", email = ["bob@example.test"] },\n'
             '  { name = "uemlaut", secret = "{PLAIN}ue-pw", email = ["ümlaut@example.test"] },\n'
             ']\n')


def peer_config(peer_port):
    """Local domains stay local; everything else goes to remote "peer" with STARTTLS."""
    return ('[queue.outbound]\n'
            'next-hop = [{ if = "is_local_domain(\'*\', rcpt_domain)", then = "\'local\'" }, '
            '{ else = "\'peer\'" }]\n\n'
            '[queue.outbound.tls]\nmta-sts = "disable"\ndane = "disable"\n\n'
            '[queue.schedule]\nretry = ["1s"]\n\n'
            '[remote."peer"]\naddress = "127.0.0.1"\nport = %d\nprotocol = "smtp"\n\n'
            '[remote."peer".tls]\nimplicit = false\nstarttls = true\n'
            'allow-invalid-certs = true\n\n'
            '[session.rcpt]\nrelay = true\n\n'
            # An MX that takes DSN requests from its peers (ternd offers DSN only when told).
            '[session.extensions]\ndsn = true\n' % peer_port)


def make_ternd(peer_port, extra=""):
    return Ternd({"smtp": {}, "submission": {}}, extra=peer_config(peer_port) + extra,
                 cert=TERND_CERT, directory=DIRECTORY, auth_require_on=("submission",))


# An 8-bit body (UTF-8 text, not encoded), a line with a leading dot, a long line.
UTF8_MESSAGE = crlf(
    "From: Sender <%(sender)s>\n"
    "To: <%(rcpt)s>\n"
    "Subject: %(subject)s\n"
    "Message-ID: <%(tag)s@interop.test>\n"
    "Date: Sun, 22 Nov 2026 00:00:00 +0000\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=utf-8\n"
    "Content-Transfer-Encoding: 8bit\n"
    "\n"
    "Grüße aus Köln — 8 bits, not encoded.\n"
    ".leading dot\n"
    "Ωμέγα ✓\n"
    + "ä" * 300 + "\n"
    "last line\n")

ASCII_MESSAGE = crlf(
    "From: Sender <%(sender)s>\n"
    "To: <%(rcpt)s>\n"
    "Subject: %(subject)s\n"
    "Message-ID: <%(tag)s@interop.test>\n"
    "Date: Sun, 22 Nov 2026 00:00:00 +0000\n"
    "\n"
    "first line\n"
    ".leading dot\n"
    "\n"
    "  spaces  \n"
    + "x" * 900 + "\n"
    "last line\n")


def big_message(sender, rcpt, subject, size):
    """About `size` bytes: many short lines, some of 998 octets (RFC 5322's limit), dots at
    line starts, 8-bit text, and a last line without any special meaning."""
    head = ("From: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: <big-%d@interop.test>\r\n"
            "Date: Sun, 22 Nov 2026 00:00:00 +0000\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n"
            "Content-Transfer-Encoding: 8bit\r\n\r\n" % (sender, rcpt, subject, size)).encode()
    lines = []
    total, n = len(head), 0
    while total < size:
        if n % 97 == 0:
            line = b"L" * 998
        elif n % 13 == 0:
            line = b"." + (b"dot line %d" % n)
        else:
            line = ("line %06d: grüße — %s" % (n, "abcdefghij" * 5)).encode()
        lines.append(line)
        total += len(line) + 2
        n += 1
    return head + b"\r\n".join(lines) + b"\r\nthe end\r\n"


def message(template, sender, rcpt, subject):
    tag = re.sub(r"[^a-z0-9]", "-", subject.lower())
    text = template.decode("utf-8") % {"sender": sender, "rcpt": rcpt, "subject": subject,
                                       "tag": tag}
    return text.encode("utf-8")


def read(path):
    with open(path, "rb") as f:
        return f.read()


def split_headers(data, names):
    """Takes the leading header fields whose names are in `names` (lower case) off a
    message (LF or CRLF): ([(name, unfolded field)], the rest)."""
    taken = []
    nl = b"\r\n" if b"\r\n" in data[:2000] else b"\n"
    while True:
        match = re.match(rb"([A-Za-z-]+):", data)
        if not match or match.group(1).decode().lower() not in names:
            return taken, data
        end = data.index(nl)
        while data[end + len(nl):end + len(nl) + 1] in (b" ", b"\t"):
            end = data.index(nl, end + len(nl))
        field = data[:end].decode("utf-8", "replace")
        taken.append((match.group(1).decode().lower(), unfold(field)))
        data = data[end + len(nl):]


def failure_block(test, data, final_recipient, status, diagnostic):
    """A failure DSN for one recipient: its per-recipient block, checked (the fields
    exactly as the reporting MTA wrote them, unfolded)."""
    _, blocks = dsn_parts(data)
    test.assertEqual(2, len(blocks), blocks)
    test.assertEqual(final_recipient, blocks[1]["final-recipient"])
    test.assertEqual("failed", blocks[1]["action"])
    test.assertEqual(status, blocks[1]["status"])
    test.assertEqual(diagnostic, blocks[1]["diagnostic-code"])
    return blocks[1]


def delivered_dsn_to(test, ternd, user, reporting_mta, envid, final_recipient,
                     original_recipient):
    """The one "delivered" DSN a peer sent back to `user` of `ternd`, checked: from <>,
    the peer as Reporting-MTA, our ENVID and ORCPT back, one recipient, 2.0.0."""
    dsns = ternd.wait_messages(user, 1)
    test.assertEqual(1, len(dsns), "no DSN from %s reached %s" % (reporting_mta, user))
    data = read(dsns[0])
    test.assertTrue(data.startswith(b"Return-Path: <>\r\nDelivered-To: %s@example.test\r\n"
                                    % user.encode()), data[:200])
    _, blocks = dsn_parts(data)
    test.assertEqual("dns; " + reporting_mta, blocks[0]["reporting-mta"])
    test.assertEqual(envid, blocks[0]["original-envelope-id"])
    test.assertEqual(2, len(blocks), blocks)
    test.assertEqual(final_recipient, blocks[1]["final-recipient"])
    test.assertEqual(original_recipient, blocks[1]["original-recipient"])
    test.assertEqual("delivered", blocks[1]["action"])
    test.assertEqual("2.0.0", blocks[1]["status"])


def dsn_parts(data):
    """A DSN: (message, [delivery-status blocks as dicts with lower-case keys])."""
    m = email.message_from_bytes(data, policy=email.policy.compat32)
    if m.get_content_type() != "multipart/report":
        raise AssertionError("not a multipart/report: %r" % data[:600])
    status = [p for p in m.get_payload() if p.get_content_type() == "message/delivery-status"]
    if len(status) != 1:
        raise AssertionError("%d delivery-status parts" % len(status))
    blocks = [{k.lower(): unfold(v) for k, v in b.items()} for b in status[0].get_payload()]
    return m, blocks


class InteropCase(LogOnFailure, unittest.TestCase):
    """Cleanups stop every daemon by pid (also when the test fails) and print logs."""

    def keep(self, daemon, name):
        self.addCleanup(daemon.cleanup)
        self.addCleanup(self.print_on_failure, daemon, name)
        return daemon

    def print_on_failure(self, daemon, name):
        outcome = getattr(self, "_outcome", None)
        result = getattr(outcome, "result", None)
        failed = bool(result and any(test is self for test, _ in
                                     list(result.failures) + list(result.errors)))
        if failed:
            print("\n--- %s log (%s) ---\n%s" % (name, daemon.dir, daemon.log_text()[-6000:]),
                  file=sys.stderr)

    def wait_spool_empty(self, t, timeout=20.0):
        left = wait_until(lambda: not spool_ids(t.spool), timeout)
        self.assertTrue(left, "spool still holds %r: %r" % (
            spool_ids(t.spool), [envelope(t.spool, i) for i in spool_ids(t.spool)]))

    def assert_no_more(self, count_fn, expected, wait=1.5):
        """Nothing beyond `expected` arrives within `wait` seconds (no second DSN...)."""
        wait_until(lambda: count_fn() > expected, wait)
        self.assertEqual(expected, count_fn())
