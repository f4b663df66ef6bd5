"""Black-box tests of ternd's delivery (issue 7): relaying to real peers on 127.0.0.1.

- Postfix's smtp-sink as the relay of the seed's relay-host example (001), with its -r / -f
  / -Q flags for 4xx, 5xx and 421 per command;
- stunnel4 in front of smtp-sink for implicit TLS (and a certificate that does not verify);
- a second ternd as an AUTH relay (STARTTLS, AUTH with the secret from %{env:...}%);
- Dovecot LMTP as the `lmtp` remote of the seed's LMTP-delivery example (000/001).

Run with `run.sh /path/to/ternd` or `TERND=/path/to/ternd python3 -m unittest -v
test_delivery`. Every peer is started per test and stopped by its pid in the test's
cleanups, also when the test fails. The queue is observed through the spool's log on disk
(peers.spool_ids/envelope read <spool>/log/, docs/spool.md): what is durable, not what
ternd holds in memory. A test that shows a bug in ternd
stays strict and is marked expectedFailure with "BUG:" until the bug is fixed.
"""
import email
import email.policy
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Ternd, free_port, make_cert, plain_b64  # noqa: E402
from peers import (DovecotLmtp, LogOnFailure, SmtpSink, Stunnel, crlf,  # noqa: E402
                   envelope, spool_ids, split_first_header, split_sink_dump, stuff, unfold,
                   wait_until)

CERT_DIR = None
CERT = None  # self-signed, CN=localhost: does not verify


def setUpModule():
    global CERT_DIR, CERT
    CERT_DIR = tempfile.mkdtemp(prefix="delivery-bb-cert-")
    CERT = make_cert(CERT_DIR)


def tearDownModule():
    shutil.rmtree(CERT_DIR, ignore_errors=True)


# Dots, empty lines, spaces and tabs at both ends, a long line, a line that is only a dot.
MESSAGE = crlf(
    "From: Alice <alice@example.test>\n"
    "To: <far@remote.example>\n"
    "Subject: %s\n"
    "Message-ID: <%s@example.test>\n"
    "MIME-Version: 1.0\n"
    "Content-Type: text/plain; charset=us-ascii\n"
    "\n"
    "first line\n"
    ".leading dot\n"
    "..two dots\n"
    ".\n"
    "\n"
    "  spaces  \n"
    "tab\there\t\n"
    + "x" * 900 + "\n"
    "last line\n")


def message(subject):
    tag = re.sub(r"[^a-z0-9]", "-", subject.lower())
    return MESSAGE.replace(b"%s", subject.encode(), 1).replace(b"%s", tag.encode(), 1)


RECEIVED_RE = (r"^Received: from client\.example\.net \(\[127\.0\.0\.1\]\) by mx\.example\.test "
               r"\(Tern\) with ESMTP id %s for <%s>; ")
# The same after STARTTLS and AUTH on the submission listener (RFC 3848: ESMTPSA).
RECEIVED_SA_RE = (r"^Received: from client\.example\.net \(\[127\.0\.0\.1\]\) by mx\.example\.test "
                  r"\(Tern\) with ESMTPSA id %s \(using TLSv1\.[23] with cipher \S+ \(\d+ bits\)\) "
                  r"for <%s>; ")


def relay_config(port, protocol="smtp", tls="implicit = false\nstarttls = false\n",
                 auth="", next_hop=None):
    """The seed's relay-host example (001) with remote."relay" on 127.0.0.1:port; local
    domains stay local, as the brief's next-hop says, unless next_hop replaces the rule."""
    hop = next_hop or ("[{ if = \"is_local_domain('*', rcpt_domain)\", then = \"'local'\" }, "
                       "{ else = \"'relay'\" }]")
    return ('[queue.outbound]\nnext-hop = %s\n\n'
            '[queue.outbound.tls]\nmta-sts = "disable"\ndane = "disable"\n\n'
            '[queue.schedule]\nretry = ["1s"]\n\n'
            '[remote."relay"]\naddress = "127.0.0.1"\nport = %d\nprotocol = "%s"\n\n'
            '[remote."relay".tls]\n%s\n%s'
            '[session.rcpt]\nrelay = true\n'
            % (hop, port, protocol, tls, auth))


class DeliveryCase(LogOnFailure, unittest.TestCase):

    # ---- peers, each stopped by pid in the cleanups (run even when the test fails) ----
    def sink(self, flags=()):
        s = SmtpSink(flags)
        self.addCleanup(s.cleanup)
        return s.start()

    def ternd(self, extra, listeners=None, directory=None, env=None, start=True):
        t = Ternd(listeners or {"smtp": {}}, extra=extra, cert=CERT, directory=directory,
                  env=env, auth_require_on=())
        self.addCleanup(t.cleanup)
        self.addCleanup(self.dump_log_on_failure, t)
        return t.start() if start else t

    # ---- submission ----------------------------------------------------------------
    def submit(self, t, sender, rcpts, msg, listener="smtp", auth=None):
        """One transaction on ternd's `listener` (after STARTTLS and AUTH PLAIN when `auth`
        is (user, password)); returns the queue id of the 250."""
        c = Client(t.port(listener))
        self.addCleanup(c.close)
        self.assertEqual(220, c.reply()[0])
        self.assertEqual(250, c.ehlo()[0])
        if auth:
            self.assertEqual(220, c.cmd("STARTTLS")[0])
            c.starttls()
            self.assertEqual(250, c.ehlo()[0])
            self.assertEqual((235, "2.7.0 Authentication successful"),
                             c.cmd("AUTH PLAIN " + plain_b64(*auth)))
        self.assertEqual((250, "2.1.0 Sender OK"), c.cmd("MAIL FROM:<%s>" % sender))
        for rcpt in rcpts:
            self.assertEqual((250, "2.1.5 Recipient OK"), c.cmd("RCPT TO:<%s>" % rcpt))
        self.assertEqual(354, c.cmd("DATA")[0])
        c.send(stuff(msg) + b".\r\n")
        code, text = c.reply_line()
        self.assertEqual(250, code, text)
        match = re.match(r"^2\.0\.0 Ok: queued as ([0-9A-F]{16})$", text)
        self.assertIsNotNone(match, text)
        c.cmd("QUIT")
        return match.group(1)

    # ---- the queue, through the spool ------------------------------------------------
    def wait_spool_empty(self, t, timeout=15.0):
        left = wait_until(lambda: not spool_ids(t.spool), timeout)
        self.assertTrue(left, "spool still holds %r: %r" % (
            spool_ids(t.spool), [envelope(t.spool, i) for i in spool_ids(t.spool)]))

    def wait_pending(self, t, queue_id, address, reply_re, timeout=15.0):
        """The recipient's record once it is pending after an attempt whose last_reply
        matches reply_re (re.search). ternd words a temporary failure of its own as
        "451 4.4.0 <reason>" and keeps a server's reply as it was sent."""
        def check():
            env = envelope(t.spool, queue_id)
            if env is None:
                return None
            for r in env["rcpts"]:
                if (r["address"] == address and r["attempts"] >= 1
                        and re.search(reply_re, r["last_reply"])):
                    return r
            return None
        found = wait_until(check, timeout)
        self.assertIsNotNone(found, "envelope of %s: %r" % (queue_id, envelope(t.spool, queue_id)))
        self.assertEqual("pending", found["state"])
        self.assertFalse(found["dsn_sent"])
        return found

    # ---- what the sink got -------------------------------------------------------------
    def assert_relayed(self, sink, msg, queue_id, sender, rcpt, before=(), received_re=RECEIVED_RE):
        """The sink's one new dump (not in `before`): smtp-sink's envelope lines, then
        exactly one Received header added by ternd, then `msg` byte for byte (smtp-sink
        writes LF line ends; ternd never stores a bare CR or LF, so nothing is lost)."""
        new = wait_until(lambda: [p for p in sink.files() if p not in before])
        self.assertEqual(1, len(new), "new dumps: %r" % new)

        def complete():  # smtp-sink creates the file first and writes it as data arrives
            with open(new[0], "rb") as f:
                data = f.read()
            return data if data.endswith(b"\n\n") else None
        data = wait_until(complete) or open(new[0], "rb").read()
        self.assertNotIn(b"\r", data)
        head, rest = split_sink_dump(data)
        # No SIZE=: smtp-sink does not offer SIZE, and ternd sends only what is offered.
        self.assertIn("\nX-Mail-Args: <%s>\n" % sender, head)
        self.assertIn("\nX-Rcpt-Args: <%s>" % rcpt, head)
        self.assertIn("\nX-Helo-Args: mx.example.test\n", head)
        received, after = split_first_header(rest)
        self.assertRegex(unfold(received), received_re % (queue_id, re.escape(rcpt)))
        self.assertEqual(msg.replace(b"\r\n", b"\n"), after)
        return head

    def dsn_parts(self, data):
        """A stored failure DSN: (message, [delivery-status blocks as dicts], headers part)."""
        m = email.message_from_bytes(data, policy=email.policy.compat32)
        self.assertEqual("multipart/report", m.get_content_type())
        self.assertEqual("delivery-status", m.get_param("report-type"))
        parts = m.get_payload()
        self.assertEqual("text/plain", parts[0].get_content_type())
        self.assertEqual("message/delivery-status", parts[1].get_content_type())
        self.assertIn(parts[2].get_content_type(), ("text/rfc822-headers", "message/rfc822"))
        blocks = []
        for block in parts[1].get_payload():  # compat32: a list of header blocks
            blocks.append({k.lower(): v for k, v in block.items()})
        return m, blocks, parts[2]

    def assert_failure_dsn(self, data, rcpt, status, diagnostic, subject):
        m, blocks, original = self.dsn_parts(data)
        self.assertIn("reporting-mta", blocks[0])
        per_rcpt = blocks[1:]
        self.assertEqual(1, len(per_rcpt), blocks)
        self.assertEqual("rfc822; %s" % rcpt, per_rcpt[0]["final-recipient"])
        self.assertEqual("failed", per_rcpt[0]["action"])
        self.assertEqual(status, per_rcpt[0]["status"])
        self.assertTrue(unfold(per_rcpt[0]["diagnostic-code"]).startswith(diagnostic),
                        per_rcpt[0]["diagnostic-code"])
        self.assertIn("Subject: %s" % subject, original.as_string())
        return m


# ---- 1. the relay-host seed (001) against smtp-sink -------------------------------------

class RelaySeedTests(DeliveryCase):
    def test_relayed_byte_identical_then_spool_empty(self):
        sink = self.sink()
        t = self.ternd(relay_config(sink.port))
        msg = message("relay seed")
        qid = self.submit(t, "alice@example.test", ["far@remote.example"], msg)
        self.assert_relayed(sink, msg, qid, "alice@example.test", "far@remote.example")
        self.wait_spool_empty(t)
        self.assertEqual([], t.messages("alice"))  # no DSN of any kind

    def test_next_hop_relay_as_the_seed_writes_it(self):
        # next-hop = "relay": every recipient, local domains included, goes to the relay.
        sink = self.sink()
        t = self.ternd(relay_config(sink.port, next_hop='"relay"'))
        msg = message("seed next-hop string")
        qid = self.submit(t, "alice@example.test", ["bob@example.test"], msg)
        self.assert_relayed(sink, msg, qid, "alice@example.test", "bob@example.test")
        self.wait_spool_empty(t)
        self.assertEqual([], t.messages("bob"))

    def test_two_recipients_share_one_transaction(self):
        sink = self.sink()
        t = self.ternd(relay_config(sink.port))
        msg = message("two recipients")
        qid = self.submit(t, "alice@example.test", ["one@remote.example", "two@other.example"], msg)
        files = sink.wait_files(1)
        self.wait_spool_empty(t)
        self.assertEqual(1, len(sink.files()), sink.files())
        with open(files[0], "rb") as f:
            head, rest = split_sink_dump(f.read())
        self.assertEqual(["<one@remote.example>", "<two@other.example>"],
                         re.findall(r"^X-Rcpt-Args: (\S+)", head, re.M))
        received, after = split_first_header(rest)
        self.assertRegex(unfold(received), r"^Received: from client\.example\.net .* id %s; " % qid)
        self.assertNotIn(" for <", received)  # RFC 5321 4.4: "for" names one recipient only
        self.assertEqual(msg.replace(b"\r\n", b"\n"), after)

    def test_received_without_for_still_has_the_semicolon(self):
        sink = self.sink()
        t = self.ternd(relay_config(sink.port))
        qid = self.submit(t, "alice@example.test", ["one@remote.example", "two@other.example"],
                          message("semicolon"))
        files = sink.wait_files(1)
        self.assertEqual(1, len(files))
        with open(files[0], "rb") as f:
            received, _ = split_first_header(split_sink_dump(f.read())[1])
        self.assertRegex(unfold(received), r" id %s; \w{3}, \d{1,2} \w{3} \d{4} " % qid)


# ---- 2. per-command failures with smtp-sink's flags --------------------------------------

SOFT = "450 4.3.0 Error: command failed"   # smtp-sink's default soft-bounce reply (-r)
HARD = "550 5.1.1 No such user here"       # given with -B for the hard rejects (-f)
CLOSE = "421 4.0.0 Server closing connection"  # smtp-sink's reply to a -Q command


def with_endpoint(reply):
    """ternd's last_reply for a server's reply: the reply exactly as the server sent it
    (the route and host are in the attempt history, not in the reply)."""
    return r"^%s$" % re.escape(reply)


class RelayFailureTests(DeliveryCase):
    """The sender alice@example.test is local; she submits with AUTH on a submission
    listener, so that her bounces go to her account (runtime/bounce.hpp)."""
    LISTENERS = {"smtp": {}, "submission": {}}

    def relay_ternd(self, sink_port):
        return self.ternd(relay_config(sink_port), listeners=self.LISTENERS)

    def submit_as_alice(self, t, subject):
        msg = message(subject)
        qid = self.submit(t, "alice@example.test", ["far@remote.example"], msg,
                          listener="submission", auth=("alice", "alice-pw"))
        return qid, msg

    def one_dsn(self, t, account="alice"):
        dsns = t.wait_messages(account, 1)
        self.assertEqual(1, len(dsns), "no DSN in %s's Maildir: %r" % (
            account, os.listdir(t.maildir) if os.path.isdir(t.maildir) else None))
        with open(dsns[0], "rb") as f:
            return f.read()

    def test_rcpt_5xx_bounces_to_local_sender_and_leaves_the_spool(self):
        sink = self.sink(["-f", "RCPT", "-B", HARD])
        t = self.relay_ternd(sink.port)
        qid, _ = self.submit_as_alice(t, "rcpt 5xx")
        data = self.one_dsn(t)
        self.assertTrue(data.startswith(b"Return-Path: <>\r\nDelivered-To: alice@example.test\r\n"),
                        data[:200])
        m = self.assert_failure_dsn(data, "far@remote.example", "5.1.1", "smtp; " + HARD,
                                    "rcpt 5xx")
        self.assertIn("alice@example.test", m["To"])
        self.assertEqual("<>", m["Return-Path"])
        self.wait_spool_empty(t)
        self.assertIsNone(envelope(t.spool, qid))
        # No message reached the sink: the only recipient was refused. (smtp-sink answers a
        # pipelined DATA with 354 even then, and RFC 2920 3.1 has the client end it with a
        # lone "."; smtp-sink dumps that empty transaction, so look for the message itself.)
        for path in sink.files():
            with open(path, "rb") as f:
                self.assertNotIn(b"rcpt 5xx", f.read())

    def test_diagnostic_code_is_the_servers_reply_only(self):
        sink = self.sink(["-f", "RCPT", "-B", HARD])
        t = self.relay_ternd(sink.port)
        self.submit_as_alice(t, "diagnostic")
        _, blocks, _ = self.dsn_parts(self.one_dsn(t))
        self.assertEqual("smtp; " + HARD, unfold(blocks[1]["diagnostic-code"]))

    def test_end_of_data_5xx_bounces(self):
        sink = self.sink(["-f", ".", "-B", "554 5.6.0 Content refused"])
        t = self.relay_ternd(sink.port)
        self.submit_as_alice(t, "data 5xx")
        self.assert_failure_dsn(self.one_dsn(t), "far@remote.example", "5.6.0",
                                "smtp; 554 5.6.0 Content refused", "data 5xx")
        self.wait_spool_empty(t)

    def test_unauthenticated_local_sender_gets_the_dsn_in_her_mailbox(self):
        sink = self.sink(["-f", "RCPT", "-B", HARD])
        t = self.relay_ternd(sink.port)
        self.submit(t, "alice@example.test", ["far@remote.example"], message("unauth dsn"))
        self.wait_spool_empty(t)
        self.assertEqual(["alice"], sorted(os.listdir(t.maildir)))
        self.assert_failure_dsn(self.one_dsn(t), "far@remote.example", "5.1.1", "smtp; " + HARD,
                                "unauth dsn")

    def retry_after(self, flags, reply_re, subject):
        sink = self.sink(flags)
        t = self.relay_ternd(sink.port)
        qid, msg = self.submit_as_alice(t, subject)
        r = self.wait_pending(t, qid, "far@remote.example", reply_re)
        # The attempt history says why it is still here (for `tern queue show`).
        self.assertGreaterEqual(len(r["history"]), 1, r)
        self.assertEqual("remote relay", r["history"][-1]["route"])
        self.assertEqual("127.0.0.1:%d" % sink.port, r["history"][-1]["host"])
        self.assertEqual(r["last_reply"], r["history"][-1]["reply"])
        self.assertEqual([], t.messages("alice"))  # a temporary failure owes no DSN
        sink.stop()
        before = sink.files()  # smtp-sink may have dumped the refused transaction
        sink.start([])
        self.assert_relayed(sink, msg, qid, "alice@example.test", "far@remote.example",
                            before=before, received_re=RECEIVED_SA_RE)
        self.wait_spool_empty(t)
        self.assertEqual([], t.messages("alice"))
        return r

    def test_rcpt_4xx_pending_then_delivered_on_retry(self):
        self.retry_after(["-r", "RCPT"], with_endpoint(SOFT), "rcpt 4xx")

    def test_mail_4xx_pending_then_delivered_on_retry(self):
        self.retry_after(["-r", "MAIL"], with_endpoint(SOFT), "mail 4xx")

    def test_data_4xx_pending_then_delivered_on_retry(self):
        self.retry_after(["-r", "DATA"], with_endpoint(SOFT), "data 4xx")

    def test_end_of_data_4xx_pending_then_delivered_on_retry(self):
        self.retry_after(["-r", "."], with_endpoint(SOFT), "dot 4xx")

    def test_rcpt_421_disconnect_pending_then_delivered_on_retry(self):
        self.retry_after(["-Q", "RCPT"], with_endpoint(CLOSE), "rcpt 421")

    def test_data_421_disconnect_pending_then_delivered_on_retry(self):
        self.retry_after(["-Q", "DATA"], with_endpoint(CLOSE), "data 421")

    def test_mail_421_disconnect_pending_then_delivered_on_retry(self):
        self.retry_after(["-Q", "MAIL"], r"^4\d\d ", "mail 421")

    def test_mail_421_is_named_in_last_reply(self):
        sink = self.sink(["-Q", "MAIL"])
        t = self.relay_ternd(sink.port)
        qid, _ = self.submit_as_alice(t, "mail 421 reply")
        self.wait_pending(t, qid, "far@remote.example", with_endpoint(CLOSE), timeout=4.0)

    def test_relay_down_pending_with_reason(self):
        port = free_port()  # nothing listens there
        t = self.relay_ternd(port)
        qid, _ = self.submit_as_alice(t, "down")
        self.wait_pending(t, qid, "far@remote.example",
                          r"^451 4\.4\.0 connect 127\.0\.0\.1:%d: Connection refused$" % port)


# ---- 3. TLS: implicit TLS through stunnel4 ---------------------------------------------

def make_ca_signed_cert(folder):
    """A CA and a server certificate for IP 127.0.0.1 signed by it: (ca, (cert, key))."""
    def run(*args):
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ca, ca_key = os.path.join(folder, "ca.pem"), os.path.join(folder, "ca-key.pem")
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key, "-out", ca,
        "-days", "2", "-subj", "/CN=Tern test CA")
    key, csr = os.path.join(folder, "srv-key.pem"), os.path.join(folder, "srv.csr")
    cert, ext = os.path.join(folder, "srv.pem"), os.path.join(folder, "srv.ext")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
        "-subj", "/CN=127.0.0.1")
    with open(ext, "w") as f:
        f.write("subjectAltName = IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
        "-out", cert, "-days", "2", "-extfile", ext)
    return ca, (cert, key)


class RelayTlsTests(DeliveryCase):
    def tunnel(self, sink, cert):
        s = Stunnel(sink.port, cert)
        self.addCleanup(s.cleanup)
        return s.start()

    def test_implicit_tls_invalid_cert_allowed_arrives(self):
        sink = self.sink()
        tunnel = self.tunnel(sink, CERT)
        t = self.ternd(relay_config(tunnel.port, tls="implicit = true\nallow-invalid-certs = true\n"))
        msg = message("implicit tls")
        qid = self.submit(t, "alice@example.test", ["far@remote.example"], msg)
        self.assert_relayed(sink, msg, qid, "alice@example.test", "far@remote.example")
        self.wait_spool_empty(t)
        # stunnel carried the session: bytes went both ways through TLS. ternd keeps the
        # connection a few seconds for a next message (connection reuse), then QUITs.
        closed = re.compile(r"Connection closed: [1-9]\d* byte\(s\) sent to TLS, [1-9]\d* "
                            r"byte\(s\) sent to socket")
        wait_until(lambda: closed.search(tunnel.log_text()), timeout=15.0)
        self.assertRegex(tunnel.log_text(), closed)

    def test_implicit_tls_unverified_cert_stays_pending(self):
        sink = self.sink()
        tunnel = self.tunnel(sink, CERT)
        t = self.ternd(relay_config(tunnel.port, tls="implicit = true\nallow-invalid-certs = false\n"))
        qid = self.submit(t, "alice@example.test", ["far@remote.example"], message("bad cert"))
        self.wait_pending(t, qid, "far@remote.example",
                          r"^451 4\.4\.0 .*tls handshake: certificate: self[- ]signed certificate")
        self.assertEqual([], sink.files())
        self.assertEqual([], t.messages("alice"))

    def test_implicit_tls_verified_cert_arrives(self):
        # allow-invalid-certs = false with a certificate that verifies (CA in SSL_CERT_FILE,
        # IP SAN 127.0.0.1): verification is done, not merely always failing.
        folder = tempfile.mkdtemp(prefix="delivery-bb-ca-")
        self.addCleanup(shutil.rmtree, folder, True)
        ca, cert = make_ca_signed_cert(folder)
        sink = self.sink()
        tunnel = self.tunnel(sink, cert)
        t = self.ternd(relay_config(tunnel.port, tls="implicit = true\nallow-invalid-certs = false\n"),
                       env={"SSL_CERT_FILE": ca})
        msg = message("verified tls")
        qid = self.submit(t, "alice@example.test", ["far@remote.example"], msg)
        self.assert_relayed(sink, msg, qid, "alice@example.test", "far@remote.example")
        self.wait_spool_empty(t)


# ---- 4. AUTH to a relay: a second ternd --------------------------------------------------

ORIGIN_DIRECTORY = ('[directory.local]\ntype = "memory"\nlookup.domains = ["origin.test"]\n'
                    'principals = [{ name = "carol", secret = "{PLAIN}carol-pw", '
                    'email = ["carol@origin.test"] }]\n')


class RelayAuthTests(DeliveryCase):
    def relay(self):
        """ternd B: submission with STARTTLS, AUTH required before MAIL; alice, bob, demo."""
        t = Ternd({"submission": {}}, cert=CERT, auth_require_on=("submission",),
                  extra='[queue.schedule]\nretry = ["1s"]\n')
        self.addCleanup(t.cleanup)
        self.addCleanup(self.dump_log_on_failure, t)
        return t.start()

    def origin(self, relay, secret):
        auth = ('[remote."relay".auth]\nusername = "alice"\nsecret = "%{env:RELAY_SECRET}%"\n\n')
        tls = "implicit = false\nstarttls = true\nallow-invalid-certs = true\n"
        return self.ternd(relay_config(relay.port("submission"), tls=tls, auth=auth),
                          directory=ORIGIN_DIRECTORY, env={"RELAY_SECRET": secret})

    def test_starttls_auth_relay_delivers_to_the_relays_maildir(self):
        relay = self.relay()
        t = self.origin(relay, "alice-pw")
        msg = message("auth relay")
        qid = self.submit(t, "alice@example.test", ["bob@example.test"], msg)
        found = relay.wait_messages("bob", 1)
        self.assertEqual(1, len(found), "nothing for bob at the relay")
        with open(found[0], "rb") as f:
            data = f.read()
        lines = data.split(b"\r\n")
        self.assertEqual(b"Return-Path: <alice@example.test>", lines[0])
        self.assertEqual(b"Delivered-To: bob@example.test", lines[1])
        # The relay's Received (ESMTPSA: TLS and AUTH), then the origin's, then msg.
        relay_received, rest = split_first_header(b"\n".join(lines[2:]))
        self.assertRegex(unfold(relay_received),
                         r"^Received: from mx\.example\.test \(\[127\.0\.0\.1\]\) by "
                         r"mx\.example\.test \(Tern\) with ESMTPSA id [0-9A-F]{16} .*"
                         r"using TLSv1\.[23]")
        origin_received, rest = split_first_header(rest)
        self.assertRegex(unfold(origin_received), RECEIVED_RE % (qid, "bob@example\\.test"))
        self.assertEqual(msg, rest.replace(b"\n", b"\r\n"))
        self.wait_spool_empty(t)

    def test_wrong_password_stays_pending_with_535(self):
        relay = self.relay()
        t = self.origin(relay, "not-the-password")
        qid = self.submit(t, "alice@example.test", ["bob@example.test"], message("wrong pw"))
        # AUTH refused is temporary by design (runtime/outbound/remote_delivery.hpp).
        self.wait_pending(t, qid, "bob@example.test",
                          r"^451 4\.4\.0 535 5\.7\.8 Authentication credentials invalid ")
        self.assertEqual([], relay.messages("bob"))
        self.assertEqual([], t.messages("carol"))


# ---- 5. the LMTP-delivery seed (000/001) against Dovecot LMTP ---------------------------

# The seed's LMTP-delivery example (next-hop with is_local_domain('', ...), remote "lmtp"
# at "localhost") with tls.starttls = false for a Dovecot without TLS; the seed's auth
# section is left out because Dovecot's LMTP offers no AUTH (the verbatim example is tested
# against a ternd LMTP store below). session.rcpt: ternd accepts every local recipient, so
# that Dovecot is the one to refuse the unknown one.
LMTP_SEED = """
[queue.outbound]
next-hop = [ { if = "is_local_domain('', rcpt_domain)", then = "'lmtp'" },
             { else = false } ]

[remote."lmtp"]
address = "localhost"
port = %d
protocol = "lmtp"

[remote."lmtp".tls]
implicit = false
starttls = false
allow-invalid-certs = true

[queue.schedule]
retry = ["1s"]

[session.rcpt]
directory = false
relay = true
"""


class LmtpSeedTests(DeliveryCase):
    def test_known_delivered_unknown_bounced_through_lmtp(self):
        dovecot = DovecotLmtp(["carol@example.test", "sender@example.test"])
        self.addCleanup(dovecot.cleanup)
        dovecot.start()
        t = self.ternd(LMTP_SEED % dovecot.port)
        msg = message("lmtp seed")
        qid = self.submit(t, "sender@example.test", ["carol@example.test", "nobody@example.test"],
                          msg)
        found = dovecot.wait_messages("carol@example.test", 1)
        self.assertEqual(1, len(found), "nothing for carol; dovecot log:\n" + dovecot.log_text())
        with open(found[0], "rb") as f:
            data = f.read()
        # Dovecot adds Return-Path and Delivered-To; then ternd's Received, then msg.
        lines = data.replace(b"\r\n", b"\n").split(b"\n")
        self.assertEqual(b"Return-Path: <sender@example.test>", lines[0])
        self.assertEqual(b"Delivered-To: carol@example.test", lines[1])
        rest = b"\n".join(lines[2:])
        while rest.startswith(b"Received: ") and "(Tern)" not in split_first_header(rest)[0]:
            rest = split_first_header(rest)[1]  # Dovecot's own Received, if any
        received, after = split_first_header(rest)
        self.assertRegex(unfold(received), r"^Received: from client\.example\.net "
                                           r"\(\[127\.0\.0\.1\]\) by mx\.example\.test \(Tern\) "
                                           r"with ESMTP id %s; \w{3}, " % qid)
        self.assertEqual(msg.replace(b"\r\n", b"\n"), after)
        # The unknown recipient: a failure DSN to the sender, itself delivered over LMTP.
        dsns = dovecot.wait_messages("sender@example.test", 1)
        self.assertEqual(1, len(dsns), "no DSN for the sender; dovecot log:\n" + dovecot.log_text())
        with open(dsns[0], "rb") as f:
            data = f.read()
        self.assertTrue(data.startswith(b"Return-Path: <>"), data[:100])
        _, blocks, _ = self.dsn_parts(data)
        per_rcpt = blocks[1:]
        self.assertEqual(1, len(per_rcpt), blocks)
        self.assertEqual("rfc822; nobody@example.test", per_rcpt[0]["final-recipient"])
        self.assertEqual("failed", per_rcpt[0]["action"])
        self.assertEqual("5.1.1", per_rcpt[0]["status"])
        self.assertRegex(unfold(per_rcpt[0]["diagnostic-code"]), r"^smtp; 550 5\.1\.1 ")
        self.wait_spool_empty(t)
        self.assertEqual(1, len(dovecot.messages("carol@example.test")))
        self.assertEqual([], dovecot.messages("nobody@example.test"))

    def test_seed_remote_verbatim_to_dovecot_lmtp(self):
        # The seed's [remote."lmtp"] as written: STARTTLS (Dovecot offers it with a
        # certificate), invalid certificates allowed, and AUTH credentials that Dovecot's
        # LMTP never asks for (it offers no AUTH: LMTP is final delivery, ternd goes on).
        dovecot = DovecotLmtp(["carol@example.test", "sender@example.test"], cert=CERT)
        self.addCleanup(dovecot.cleanup)
        dovecot.start()
        seed = LMTP_SEED.replace('starttls = false\n', '') + (
            '\n[remote."lmtp".auth]\nusername = "relay_server"\nsecret = "123456"\n')
        t = self.ternd(seed % dovecot.port)
        msg = message("lmtp seed verbatim to dovecot")
        qid = self.submit(t, "sender@example.test", ["carol@example.test"], msg)
        found = dovecot.wait_messages("carol@example.test", 1)
        self.assertEqual(1, len(found), "envelope: %r\ndovecot log:\n%s"
                         % (envelope(t.spool, qid), dovecot.log_text()))
        with open(found[0], "rb") as f:
            data = f.read().replace(b"\r\n", b"\n")
        self.assertTrue(data.endswith(msg.replace(b"\r\n", b"\n")), data[-200:])
        # Dovecot's own Received names the hop: LMTPS is LMTP with STARTTLS (RFC 3848).
        self.assertRegex(data[:3000].decode("utf-8", "replace"), r"\(using TLSv1\.[23] .*\n\tby \S+ with LMTPS\n")
        self.wait_spool_empty(t)

    def test_seed_remote_verbatim_to_a_ternd_lmtp_store(self):
        # The seed's [remote."lmtp"] exactly as written (STARTTLS by default, invalid
        # certificates allowed, AUTH as relay_server / 123456) against a second ternd whose
        # LMTP listener offers STARTTLS and AUTH (Dovecot's LMTP offers no AUTH).
        directory = ('[directory.local]\ntype = "memory"\nlookup.domains = ["example.test"]\n'
                     'principals = [\n'
                     '  { name = "relay_server", secret = "{PLAIN}123456", email = [] },\n'
                     '  { name = "carol", secret = "{PLAIN}carol-pw", email = ["carol@example.test"] },\n'
                     ']\n')
        store = Ternd({"lmtp": {"protocol": "lmtp"}}, cert=CERT, directory=directory,
                      auth_require_on=("lmtp",))
        self.addCleanup(store.cleanup)
        self.addCleanup(self.dump_log_on_failure, store)
        # relay_server delivers for any sender (as a store trusts its MTA).
        store.write_config(store.render().replace(
            "[session.auth]", "[session.auth]\nmust-match-sender = false"))
        store.start()
        seed = LMTP_SEED.replace('starttls = false\n', '').replace(
            '[session.rcpt]\ndirectory = false\nrelay = true\n', '') + (
            '\n[remote."lmtp".auth]\nusername = "relay_server"\nsecret = "123456"\n')
        t = self.ternd(seed % store.port("lmtp"), directory=directory.replace(
            "carol@example.test", "carol@example.test\", \"sender@example.test"))
        msg = message("lmtp seed verbatim")
        qid = self.submit(t, "sender@example.test", ["carol@example.test"], msg)
        found = store.wait_messages("carol", 1)
        self.assertEqual(1, len(found), "envelope: %r" % envelope(t.spool, qid))
        with open(found[0], "rb") as f:
            data = f.read()
        self.assertRegex(unfold(data.decode()), r"^Return-Path: <sender@example\.test>\r\n"
                                        r"Delivered-To: carol@example\.test\r\nReceived: from "
                                        r"mx\.example\.test \(\[127\.0\.0\.1\]\) by mx\.example\.test "
                                        r"\(Tern\) with LMTPSA ")
        self.assertTrue(data.endswith(msg), data[-200:])
        self.wait_spool_empty(t)


if __name__ == "__main__":
    unittest.main()
