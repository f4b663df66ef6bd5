"""Interop with Exim 4 (issue 9): exim4-daemon-light unpacked from Debian's packages
(mtas.Exim: its own -C configuration, -bdf -oX port, spool and log) and ternd on
127.0.0.1, each the other's next hop. The same two shapes as test_postfix:

1. Exim -> ternd: Exim's smtp transport relays to ternd with TLS required
   (hosts_require_tls), PIPELINING (the "L" of log_selector +pipelining), CHUNKING (BDAT:
   Exim uses it when offered, the "K" flag), an 8-bit body and an SMTPUTF8 address; and the
   DSN round trip: NOTIFY=SUCCESS travels on to ternd, whose "delivered" DSN must come back
   to Exim's sender.
2. ternd -> Exim: ternd relays with STARTTLS to Exim, which delivers to a Maildir; Exim's
   Received says TLS; the message is byte for byte what was submitted apart from the
   trace fields; Exim's "delivered" DSN comes back to ternd's sender.
"""
import os
import re
import shutil
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop  # noqa: E402
from interop import (ASCII_MESSAGE, UTF8_MESSAGE, InteropCase, big_message,  # noqa: E402
                     delivered_dsn_to, dsn_parts, failure_block, make_ternd, message,
                     read, split_headers)
from mtas import Exim, keep, unpack_exim  # noqa: E402

EXIM_ROOT = None
EXIM_BINARY = None
# What Exim's appendfile transport prepends (return_path_add, envelope_to_add,
# delivery_date_add).
EXIM_DELIVERY = ("return-path", "envelope-to", "delivery-date")


def setUpModule():
    global EXIM_ROOT, EXIM_BINARY
    interop.make_module_cert()
    EXIM_ROOT, EXIM_BINARY = unpack_exim()


def tearDownModule():
    interop.remove_module_cert()
    if EXIM_ROOT and not keep():
        shutil.rmtree(EXIM_ROOT, ignore_errors=True)


class EximCase(InteropCase):
    def pair(self, users=("sender", "carol", "ümlaut")):
        ex = Exim(EXIM_BINARY, users, interop.CERT)
        t = make_ternd(ex.port)
        ex.relay_port = t.port("smtp")
        ex.write_config()
        self.keep(t, "ternd")
        self.addCleanup(self.dump_log_on_failure, t)
        self.keep(ex, "exim")
        t.start()
        ex.start()
        return ex, t

    def submit(self, port, sender, rcpt, msg, mail_options=(), rcpt_options=()):
        with smtplib.SMTP("127.0.0.1", port, timeout=20) as s:
            s.ehlo("client.example.net")
            refused = s.sendmail(sender, [rcpt], msg, list(mail_options), list(rcpt_options))
            self.assertEqual({}, refused)

    def exim_delivery(self, ex, rcpt):
        """Exim's log line for the delivery of rcpt to ternd, and ternd's queue id."""
        pattern = (r"^\S+ \S+ (\S+) => %s R=to_ternd T=remote_smtp (.*) "
                   r"C=\"250 2\.0\.0 Ok: queued as ([0-9A-F]{16})\"$" % re.escape(rcpt))
        match = ex.wait_log(pattern)
        self.assertIsNotNone(match, "Exim did not deliver %s to ternd" % rcpt)
        return match.group(1), match.group(2), match.group(3)


class EximToTernd(EximCase):
    def test_tls_pipelining_chunking_8bitmime_smtputf8(self):
        ex, t = self.pair()
        msg = message(UTF8_MESSAGE, "sender@exim.test", "ümlaut@example.test",
                      "exim to ternd utf8")
        self.submit(ex.port, "sender@exim.test", "ümlaut@example.test", msg,
                    mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        exim_id, flags, tern_id = self.exim_delivery(ex, "ümlaut@example.test")
        fields = flags.split(" ")
        self.assertIn("H=127.0.0.1 [127.0.0.1]:%d" % t.port("smtp"), flags)
        self.assertIn("L", fields, flags)  # PIPELINING used
        self.assertIn("K", fields, flags)  # CHUNKING (BDAT) used
        self.assertTrue(any(re.match(r"^X=TLS1\.[23]:", f) for f in fields), flags)
        found = t.wait_messages("uemlaut", 1)
        self.assertEqual(1, len(found), "nothing in ümlaut's Maildir")
        taken, body = split_headers(read(found[0]), ("return-path", "delivered-to", "received"))
        self.assertEqual(["return-path", "delivered-to", "received", "received"],
                         [n for n, _ in taken])
        self.assertEqual("Return-Path: <sender@exim.test>", taken[0][1])
        self.assertEqual("Delivered-To: ümlaut@example.test", taken[1][1])
        self.assertRegex(taken[2][1], r"^Received: from ex\.exim\.test \(\[127\.0\.0\.1\]\) "
                                      r"by mx\.example\.test \(Tern\) with UTF8SMTPS id %s "
                                      r"\(using TLSv1\.[23] " % tern_id)
        self.assertRegex(taken[3][1], r"^Received: from \[127\.0\.0\.1\] .* by ex\.exim\.test "
                                      r"with utf8esmtp \(Exim 4\.\d+\) .*id %s\s+for "
                                      r"ümlaut@example\.test;" % re.escape(exim_id))
        self.assertEqual(msg, body)
        self.wait_spool_empty(t)

    def test_dsn_notify_success_comes_back_from_ternd(self):
        ex, t = self.pair()
        msg = message(ASCII_MESSAGE, "sender@exim.test", "bob@example.test",
                      "exim dsn round trip")
        self.submit(ex.port, "sender@exim.test", "bob@example.test", msg,
                    mail_options=["RET=HDRS", "ENVID=exim-envid-5"],
                    rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;bob@example.test"])
        _, _, tern_id = self.exim_delivery(ex, "bob@example.test")
        self.assertEqual(1, len(t.wait_messages("bob", 1)))
        dsns = ex.wait_messages("sender", 1)
        self.assertEqual(1, len(dsns), "no DSN reached Exim's sender")
        data = read(dsns[0])
        taken, _ = split_headers(data, EXIM_DELIVERY + ("received",))
        self.assertEqual("Return-path: <>", taken[0][1])
        m, blocks = dsn_parts(data)
        self.assertIn("sender@exim.test", m["To"])
        self.assertEqual("dns; mx.example.test", blocks[0]["reporting-mta"])
        self.assertEqual("exim-envid-5", blocks[0]["original-envelope-id"])
        self.assertEqual(2, len(blocks), blocks)
        self.assertEqual("rfc822; bob@example.test", blocks[1]["final-recipient"])
        self.assertEqual("rfc822;bob@example.test", blocks[1]["original-recipient"])
        self.assertEqual("delivered", blocks[1]["action"])
        self.assertEqual("2.0.0", blocks[1]["status"])
        self.assertIn(b"by mx.example.test (Tern) with ESMTPS id %s\n" % tern_id.encode(), data)
        # Exim passed the request on (ternd offers DSN): no "relayed" DSN of its own.
        self.assert_no_more(lambda: len(ex.messages("sender")), 1)
        self.wait_spool_empty(t)


    def test_large_message_in_bdat_chunks(self):
        ex, t = self.pair()
        msg = big_message("sender@exim.test", "bob@example.test", "big from exim",
                          3 * 1024 * 1024)
        self.submit(ex.port, "sender@exim.test", "bob@example.test", msg,
                    mail_options=["BODY=8BITMIME"])
        _, flags, tern_id = self.exim_delivery(ex, "bob@example.test")
        self.assertIn("K", flags.split(" "), flags)  # sent with BDAT
        found = t.wait_messages("bob", 1, timeout=30)
        self.assertEqual(1, len(found), "nothing in bob's Maildir")
        taken, body = split_headers(read(found[0]), ("return-path", "delivered-to", "received"))
        self.assertEqual(4, len(taken), taken)
        self.assertIn("id %s " % tern_id, taken[2][1])
        self.assertEqual(msg, body)
        self.wait_spool_empty(t)

    def test_unknown_local_recipient_refused_exim_bounces(self):
        ex, t = self.pair()
        msg = message(ASCII_MESSAGE, "sender@exim.test", "nobody@example.test",
                      "exim unknown at ternd")
        self.submit(ex.port, "sender@exim.test", "nobody@example.test", msg)
        dsns = ex.wait_messages("sender", 1)
        self.assertEqual(1, len(dsns), "no bounce from Exim")
        failure_block(self, read(dsns[0]), "rfc822;nobody@example.test", "5.0.0",
                      "smtp; 550 5.1.1 Mailbox does not exist")
        self.wait_spool_empty(t)


    def test_dsn_to_an_smtputf8_sender(self):
        # RFC 6533: ternd's DSN for ümlaut@exim.test needs SMTPUTF8 on its own transaction.
        ex, t = self.pair()
        msg = message(UTF8_MESSAGE, "ümlaut@exim.test", "bob@example.test", "exim utf8 dsn")
        self.submit(ex.port, "ümlaut@exim.test", "bob@example.test", msg,
                    mail_options=["SMTPUTF8", "BODY=8BITMIME"], rcpt_options=["NOTIFY=SUCCESS"])
        self.exim_delivery(ex, "bob@example.test")
        self.assertEqual(1, len(t.wait_messages("bob", 1)))
        dsns = ex.wait_messages("ümlaut", 1)
        self.assertEqual(1, len(dsns), "no DSN reached ümlaut@exim.test")
        _, blocks = dsn_parts(read(dsns[0]))
        self.assertEqual("dns; mx.example.test", blocks[0]["reporting-mta"])
        self.assertEqual(["delivered"], [b["action"] for b in blocks[1:]])
        self.assertRegex(ex.log_text(), r"<= <> H=\(mx\.example\.test\) \[127\.0\.0\.1\] "
                                        r"P=utf8esmtps ")
        self.wait_spool_empty(t)


class TerndToExim(EximCase):
    def test_starttls_relay_byte_identical(self):
        ex, t = self.pair()
        msg = message(ASCII_MESSAGE, "alice@example.test", "carol@exim.test", "ternd to exim")
        self.submit(t.port("smtp"), "alice@example.test", "carol@exim.test", msg)
        found = ex.wait_messages("carol", 1)
        self.assertEqual(1, len(found), "nothing in carol's Maildir")
        taken, body = split_headers(read(found[0]), EXIM_DELIVERY + ("received",))
        self.assertEqual(["return-path", "envelope-to", "delivery-date", "received",
                          "received"], [n for n, _ in taken])
        self.assertEqual("Return-path: <alice@example.test>", taken[0][1])
        self.assertEqual("Envelope-to: carol@exim.test", taken[1][1])
        self.assertRegex(taken[3][1], r"^Received: from \[127\.0\.0\.1\] \(helo=mx\.example\.test\) "
                                      r"by ex\.exim\.test with esmtps +\(TLS1\.[23]\) tls \S+ "
                                      r"\(Exim 4\.\d+\) \(envelope-from <alice@example\.test>\) "
                                      r"id \S+ for carol@exim\.test;")
        self.assertRegex(taken[4][1], r"^Received: from client\.example\.net \(\[127\.0\.0\.1\]\) "
                                      r"by mx\.example\.test \(Tern\) with ESMTP id [0-9A-F]{16} "
                                      r"for <carol@exim\.test>;")
        self.assertEqual(msg.replace(b"\r\n", b"\n"), body)
        self.wait_spool_empty(t)

    def test_smtputf8_8bitmime_relay(self):
        ex, t = self.pair()
        msg = message(UTF8_MESSAGE, "alice@example.test", "ümlaut@exim.test",
                      "ternd to exim utf8")
        self.submit(t.port("smtp"), "alice@example.test", "ümlaut@exim.test", msg,
                    mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        found = ex.wait_messages("ümlaut", 1)
        self.assertEqual(1, len(found), "nothing in ümlaut's Maildir")
        taken, body = split_headers(read(found[0]), EXIM_DELIVERY + ("received",))
        self.assertEqual("Envelope-to: ümlaut@exim.test", taken[1][1])
        self.assertRegex(taken[3][1], r" with utf8esmtps +\(TLS1\.[23]\) ")
        self.assertEqual(msg.replace(b"\r\n", b"\n"), body)
        self.wait_spool_empty(t)

    def test_two_recipients_one_unknown(self):
        ex, t = self.pair()
        msg = message(ASCII_MESSAGE, "alice@example.test", "carol@exim.test",
                      "ternd two rcpts to exim")
        with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=20) as s:
            s.ehlo("client.example.net")
            self.assertEqual({}, s.sendmail("alice@example.test",
                                            ["carol@exim.test", "nobody@exim.test"], msg))
        self.assertEqual(1, len(ex.wait_messages("carol", 1)))
        dsns = t.wait_messages("alice", 1)
        self.assertEqual(1, len(dsns), "no failure DSN for alice")
        # Exim refuses at RCPT; ternd's DSN carries Exim's reply.
        failure_block(self, read(dsns[0]), "rfc822; nobody@exim.test", "5.0.0",
                      "smtp; 550 Unrouteable address")
        self.assert_no_more(lambda: len(ex.messages("carol")), 1)
        self.wait_spool_empty(t)

    def test_large_message_byte_identical(self):
        ex, t = self.pair()
        msg = big_message("alice@example.test", "carol@exim.test", "big to exim",
                          3 * 1024 * 1024)
        self.submit(t.port("smtp"), "alice@example.test", "carol@exim.test", msg,
                    mail_options=["BODY=8BITMIME"])
        found = ex.wait_messages("carol", 1, timeout=30)
        self.assertEqual(1, len(found), "nothing in carol's Maildir")
        taken, body = split_headers(read(found[0]), EXIM_DELIVERY + ("received",))
        self.assertEqual(5, len(taken), taken)
        self.assertEqual(msg.replace(b"\r\n", b"\n"), body)
        self.wait_spool_empty(t, timeout=30)

    def test_dsn_notify_success_comes_back_from_exim(self):
        ex, t = self.pair()
        msg = message(ASCII_MESSAGE, "alice@example.test", "carol@exim.test",
                      "ternd exim dsn round trip")
        self.submit(t.port("smtp"), "alice@example.test", "carol@exim.test", msg,
                    mail_options=["RET=HDRS", "ENVID=tern-envid-9"],
                    rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;carol@exim.test"])
        self.assertEqual(1, len(ex.wait_messages("carol", 1)))
        delivered_dsn_to(self, t, "alice", "ex.exim.test", "tern-envid-9",
                         "rfc822;carol@exim.test", "rfc822;carol@exim.test")
        self.assert_no_more(lambda: len(t.messages("alice")), 1)
        self.wait_spool_empty(t)


if __name__ == "__main__":
    unittest.main()
