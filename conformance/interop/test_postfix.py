"""Interop with Postfix (issue 9): a throwaway Postfix instance (mtas.Postfix) and ternd
on 127.0.0.1, each the other's next hop.

1. Postfix -> ternd: Postfix's smtp client relays to ternd (relayhost, TLS required:
   smtp_tls_security_level = encrypt) with PIPELINING, an 8-bit body (BODY=8BITMIME) and an
   SMTPUTF8 address; ternd delivers to its Maildir. NOTIFY=SUCCESS travels on to ternd (it
   offers DSN), so ternd's "delivered" DSN must come back to Postfix's sender, and Postfix
   itself must not send a "relayed" one.
2. ternd -> Postfix: ternd relays (STARTTLS, invalid certificate allowed) to Postfix's
   smtpd, which delivers to a Maildir; Postfix's Received says TLS; the message is byte
   for byte what was submitted apart from the trace fields. NOTIFY=SUCCESS from ternd's
   sender: Postfix's "delivered" DSN comes back to ternd's Maildir.
"""
import os
import re
import smtplib
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop  # noqa: E402
from interop import (ASCII_MESSAGE, UTF8_MESSAGE, InteropCase, big_message,  # noqa: E402
                     delivered_dsn_to, dsn_parts, failure_block, make_ternd, message,
                     read, split_headers)
from mtas import Postfix  # noqa: E402


# What Postfix's virtual(8) prepends to each delivered message.
POSTFIX_DELIVERY = ("return-path", "x-original-to", "delivered-to")


def setUpModule():
    interop.make_module_cert()


def tearDownModule():
    interop.remove_module_cert()


class PostfixCase(InteropCase):
    def pair(self, users=("sender", "carol", "ümlaut")):
        """Postfix (mail for postfix.test, the rest to ternd) and ternd (example.test, the
        rest to Postfix), both started."""
        pf = Postfix(users, interop.CERT)
        t = make_ternd(pf.port)
        pf.relayhost = "[127.0.0.1]:%d" % t.port("smtp")
        pf.write_config()
        self.keep(t, "ternd")
        self.addCleanup(self.dump_log_on_failure, t)
        self.keep(pf, "postfix")
        t.start()
        pf.start()
        return pf, t

    def submit_to_postfix(self, pf, sender, rcpts, msg, mail_options=(), rcpt_options=()):
        with smtplib.SMTP("127.0.0.1", pf.port, timeout=20) as s:
            s.ehlo("client.example.net")
            refused = s.sendmail(sender, rcpts, msg, list(mail_options), list(rcpt_options))
            self.assertEqual({}, refused)

    def ternd_transaction(self, pf, rcpt):
        """What ternd sent in the session that carried rcpt: (MAIL line, RCPT line), after
        checking that the session used STARTTLS before MAIL."""
        for commands in pf.smtpd_sessions("mx.example.test"):
            rcpts = [c for c in commands if c.startswith("RCPT TO:<%s>" % rcpt)]
            if rcpts:
                self.assertEqual(["EHLO mx.example.test", "STARTTLS", "EHLO mx.example.test"],
                                 commands[:3])
                mail = [c for c in commands if c.startswith("MAIL FROM:")]
                self.assertEqual(1, len(mail), commands)
                return mail[0], rcpts[0]
        self.fail("no session from ternd for %s in Postfix's log" % rcpt)

    def postfix_queue_id(self, pf, rcpt):
        """The id under which Postfix's smtp client relayed rcpt to ternd (status=sent)."""
        pattern = (r"postfix/smtp\[\d+\]: ([0-9A-F]+): to=<%s>, relay=127\.0\.0\.1\[127\.0\.0\.1\]"
                   r":\d+, .*status=sent \(250 2\.0\.0 Ok: queued as ([0-9A-F]{16})\)"
                   % re.escape(rcpt))
        match = pf.wait_log(pattern)
        self.assertIsNotNone(match, "Postfix did not relay %s to ternd" % rcpt)
        return match.group(1), match.group(2)


class PostfixToTernd(PostfixCase):
    def test_starttls_pipelining_8bitmime_smtputf8(self):
        pf, t = self.pair()
        msg = message(UTF8_MESSAGE, "sender@postfix.test", "ümlaut@example.test",
                      "postfix to ternd utf8")
        self.submit_to_postfix(pf, "sender@postfix.test", ["ümlaut@example.test"], msg,
                               mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        pf_id, tern_id = self.postfix_queue_id(pf, "ümlaut@example.test")
        log = pf.log_text()
        # TLS on the hop (required by smtp_tls_security_level = encrypt).
        self.assertRegex(log, r"postfix/smtp\[\d+\]: (Anonymous|Untrusted) TLS connection "
                              r"established to 127\.0\.0\.1\[127\.0\.0\.1\]:%d: TLSv1\.[23] "
                         % t.port("smtp"))
        # PIPELINING: after TLS, the client wrote MAIL, RCPT and DATA before it read any of
        # their replies (debug_peer_list logs each line sent, ">", and each reply read, "<",
        # in order).
        convo = [(m.group(1), m.group(2)) for m in re.finditer(
            r"postfix/smtp\[\d+\]: ([<>]) 127\.0\.0\.1\[127\.0\.0\.1\]:\d+: (.*)$", log, re.M)]
        mail = [i for i, (way, line) in enumerate(convo) if line.startswith("MAIL FROM:")]
        self.assertEqual(1, len(mail), convo)
        batch = convo[mail[0]:mail[0] + 6]
        self.assertEqual([">", ">", ">", "<", "<", "<"], [way for way, _ in batch], batch)
        self.assertRegex(batch[0][1], r"^MAIL FROM:<sender@postfix\.test> SIZE=\d+ "
                                      r"BODY=8BITMIME SMTPUTF8$")
        self.assertEqual("RCPT TO:<ümlaut@example.test> ORCPT=rfc822;+C3+BCmlaut@example.test",
                         batch[1][1])
        self.assertEqual(["DATA", "250 2.1.0 Sender OK", "250 2.1.5 Recipient OK"],
                         [line for _, line in batch[2:5]])
        self.assertTrue(batch[5][1].startswith("354 "), batch)
        # ternd delivered it, 8-bit bytes intact.
        found = t.wait_messages("uemlaut", 1)
        self.assertEqual(1, len(found), "nothing in ümlaut's Maildir")
        data = read(found[0])
        taken, body = split_headers(data, ("return-path", "delivered-to", "received"))
        names = [n for n, _ in taken]
        self.assertEqual(["return-path", "delivered-to", "received", "received"], names)
        self.assertEqual("Return-Path: <sender@postfix.test>", taken[0][1])
        self.assertEqual("Delivered-To: ümlaut@example.test", taken[1][1])
        self.assertRegex(taken[2][1], r"^Received: from pf\.postfix\.test \(\[127\.0\.0\.1\]\) "
                                      r"by mx\.example\.test \(Tern\) with UTF8SMTPS id %s "
                                      r"\(using TLSv1\.[23] " % tern_id)
        self.assertRegex(taken[3][1], r"^Received: from client\.example\.net .* by "
                                      r"pf\.postfix\.test \(Postfix\) with UTF8SMTP id %s"
                         % pf_id)
        self.assertEqual(msg, body)
        self.wait_spool_empty(t)

    def test_dsn_notify_success_comes_back_from_ternd(self):
        pf, t = self.pair()
        msg = message(ASCII_MESSAGE, "sender@postfix.test", "bob@example.test",
                      "postfix dsn round trip")
        self.submit_to_postfix(pf, "sender@postfix.test", ["bob@example.test"], msg,
                               mail_options=["RET=HDRS", "ENVID=pf-envid-42"],
                               rcpt_options=["NOTIFY=SUCCESS",
                                             "ORCPT=rfc822;bob@example.test"])
        _, tern_id = self.postfix_queue_id(pf, "bob@example.test")
        self.assertEqual(1, len(t.wait_messages("bob", 1)))
        # The DSN from ternd, relayed back by ternd to Postfix, delivered to sender's Maildir.
        dsns = pf.wait_messages("sender", 1)
        self.assertEqual(1, len(dsns), "no DSN reached Postfix's sender")
        data = read(dsns[0])
        self.assertTrue(data.startswith(b"Return-Path: <>\n"), data[:200])
        m, blocks = dsn_parts(data)
        self.assertEqual("delivery-status", m.get_param("report-type"))
        # The returned headers are those of the message ternd received from Postfix.
        self.assertIn(b"by mx.example.test (Tern) with ESMTPS id %s\n" % tern_id.encode(), data)
        self.assertIn("sender@postfix.test", m["To"])
        self.assertEqual("dns; mx.example.test", blocks[0]["reporting-mta"])
        self.assertEqual("pf-envid-42", blocks[0]["original-envelope-id"])
        per_rcpt = blocks[1:]
        self.assertEqual(1, len(per_rcpt), blocks)
        self.assertEqual("rfc822; bob@example.test", per_rcpt[0]["final-recipient"])
        self.assertEqual("rfc822;bob@example.test", per_rcpt[0]["original-recipient"])
        self.assertEqual("delivered", per_rcpt[0]["action"])
        self.assertEqual("2.0.0", per_rcpt[0]["status"])
        # ternd sent it back over STARTTLS too.
        taken, _ = split_headers(data, POSTFIX_DELIVERY + ("received",))
        self.assertRegex(taken[3][1], r"^Received: from mx\.example\.test \(localhost "
                                      r"\[127\.0\.0\.1\]\) \(using TLSv1\.[23] ")
        self.assertIn(b"Subject: postfix dsn round trip", data)
        # Postfix did not report "relayed" itself: ternd offered DSN, so it was passed on.
        self.assert_no_more(lambda: len(pf.messages("sender")), 1)
        self.assertNotRegex(pf.log_text(), r"sender non-delivery|delivery status notification:"
                                           r" relayed|dsn=2\.0\.0, status=sent \(relayed\)")
        self.wait_spool_empty(t)


    def test_dsn_to_an_smtputf8_sender(self):
        # RFC 6533: the DSN for a message whose sender is ümlaut@postfix.test must itself
        # travel with SMTPUTF8 (the address cannot be written otherwise).
        pf, t = self.pair()
        msg = message(UTF8_MESSAGE, "ümlaut@postfix.test", "bob@example.test",
                      "utf8 sender dsn")
        self.submit_to_postfix(pf, "ümlaut@postfix.test", ["bob@example.test"], msg,
                               mail_options=["SMTPUTF8", "BODY=8BITMIME"],
                               rcpt_options=["NOTIFY=SUCCESS"])
        self.postfix_queue_id(pf, "bob@example.test")
        self.assertEqual(1, len(t.wait_messages("bob", 1)))
        dsns = pf.wait_messages("ümlaut", 1)
        self.assertEqual(1, len(dsns), "no DSN reached ümlaut@postfix.test")
        mail, rcpt = self.ternd_transaction(pf, "ümlaut@postfix.test")
        self.assertEqual("RCPT TO:<ümlaut@postfix.test>", rcpt)
        self.assertRegex(mail, r"^MAIL FROM:<> SIZE=\d+ BODY=8BITMIME SMTPUTF8$")
        data = read(dsns[0])
        self.assertTrue(data.startswith(b"Return-Path: <>\n"), data[:200])
        _, blocks = dsn_parts(data)
        self.assertEqual("dns; mx.example.test", blocks[0]["reporting-mta"])
        self.assertEqual(["delivered"], [b["action"] for b in blocks[1:]])
        self.assert_no_more(lambda: len(pf.messages("ümlaut")), 1)
        self.wait_spool_empty(t)

    def test_sendmail_C_submission_with_dsn(self):
        # The instance's own sendmail(1) (-C: its config; postdrop into its maildrop, then
        # pickup), NOTIFY=SUCCESS and ENVID from -N and -V.
        pf, t = self.pair()
        msg = message(ASCII_MESSAGE, "sender@postfix.test", "bob@example.test",
                      "postfix sendmail")
        pf.sendmail(["-f", "sender@postfix.test", "-N", "success", "-V", "sm-envid-1",
                     "bob@example.test"], msg.replace(b"\r\n", b"\n"))
        _, tern_id = self.postfix_queue_id(pf, "bob@example.test")
        found = t.wait_messages("bob", 1)
        self.assertEqual(1, len(found))
        taken, body = split_headers(read(found[0]), ("return-path", "delivered-to", "received"))
        self.assertEqual(["return-path", "delivered-to", "received", "received"],
                         [n for n, _ in taken])
        self.assertRegex(taken[3][1], r"^Received: by pf\.postfix\.test \(Postfix, from userid 0\) ")
        self.assertEqual(msg, body)
        dsns = pf.wait_messages("sender", 1)
        self.assertEqual(1, len(dsns), "no DSN reached Postfix's sender")
        _, blocks = dsn_parts(read(dsns[0]))
        self.assertEqual("sm-envid-1", blocks[0]["original-envelope-id"])
        self.assertEqual(["delivered"], [b["action"] for b in blocks[1:]])
        self.assert_no_more(lambda: len(pf.messages("sender")), 1)
        self.wait_spool_empty(t)


    def test_unknown_local_recipient_refused_postfix_bounces(self):
        pf, t = self.pair()
        msg = message(ASCII_MESSAGE, "sender@postfix.test", "nobody@example.test",
                      "postfix unknown at ternd")
        self.submit_to_postfix(pf, "sender@postfix.test", ["nobody@example.test"], msg)
        # ternd refuses at RCPT; Postfix bounces to its sender with ternd's reply.
        dsns = pf.wait_messages("sender", 1)
        self.assertEqual(1, len(dsns), "no bounce from Postfix")
        block = failure_block(self, read(dsns[0]), "rfc822; nobody@example.test", "5.1.1",
                              "smtp; 550 5.1.1 Mailbox does not exist")
        self.assertEqual("dns; 127.0.0.1", block["remote-mta"])
        self.assertEqual([], t.messages("nobody"))
        self.wait_spool_empty(t)


class TerndToPostfix(PostfixCase):
    def submit_to_ternd(self, t, sender, rcpt, msg, mail_options=(), rcpt_options=()):
        with smtplib.SMTP("127.0.0.1", t.port("smtp"), timeout=20) as s:
            s.ehlo("client.example.net")
            refused = s.sendmail(sender, [rcpt], msg, list(mail_options), list(rcpt_options))
            self.assertEqual({}, refused)

    def test_starttls_relay_byte_identical(self):
        pf, t = self.pair()
        msg = message(ASCII_MESSAGE, "alice@example.test", "carol@postfix.test",
                      "ternd to postfix")
        self.submit_to_ternd(t, "alice@example.test", "carol@postfix.test", msg)
        found = pf.wait_messages("carol", 1)
        self.assertEqual(1, len(found), "nothing in carol's Maildir")
        mail, rcpt = self.ternd_transaction(pf, "carol@postfix.test")
        self.assertRegex(mail, r"^MAIL FROM:<alice@example\.test> SIZE=\d+$")
        self.assertEqual("RCPT TO:<carol@postfix.test>", rcpt)
        data = read(found[0])
        # The virtual delivery agent prepends Return-Path, X-Original-To and Delivered-To;
        # then Postfix's Received (TLS), ternd's, and the message (LF line ends).
        taken, body = split_headers(data, POSTFIX_DELIVERY + ("received",))
        self.assertEqual(["return-path", "x-original-to", "delivered-to", "received",
                          "received"], [n for n, _ in taken])
        self.assertEqual("Return-Path: <alice@example.test>", taken[0][1])
        self.assertEqual("Delivered-To: carol@postfix.test", taken[2][1])
        taken = taken[1:]
        self.assertRegex(taken[2][1], r"^Received: from mx\.example\.test \(localhost "
                                      r"\[127\.0\.0\.1\]\) \(using TLSv1\.[23] with cipher \S+ "
                                      r"\(\d+/\d+ bits\)")
        self.assertRegex(taken[2][1], r" by pf\.postfix\.test \(Postfix\) with ESMTPS id [0-9A-F]+ "
                                      r"for <carol@postfix\.test>;")
        self.assertRegex(taken[3][1], r"^Received: from client\.example\.net \(\[127\.0\.0\.1\]\) "
                                      r"by mx\.example\.test \(Tern\) with ESMTP id [0-9A-F]{16} "
                                      r"for <carol@postfix\.test>;")
        self.assertEqual(msg.replace(b"\r\n", b"\n"), body)
        self.wait_spool_empty(t)

    def test_smtputf8_8bitmime_relay(self):
        pf, t = self.pair()
        msg = message(UTF8_MESSAGE, "alice@example.test", "ümlaut@postfix.test",
                      "ternd to postfix utf8")
        self.submit_to_ternd(t, "alice@example.test", "ümlaut@postfix.test", msg,
                             mail_options=["SMTPUTF8", "BODY=8BITMIME"])
        found = pf.wait_messages("ümlaut", 1)
        self.assertEqual(1, len(found), "nothing in ümlaut's Maildir")
        mail, rcpt = self.ternd_transaction(pf, "ümlaut@postfix.test")
        self.assertRegex(mail, r"^MAIL FROM:<alice@example\.test> SIZE=\d+ BODY=8BITMIME SMTPUTF8$")
        self.assertEqual("RCPT TO:<ümlaut@postfix.test>", rcpt)
        taken, body = split_headers(read(found[0]), POSTFIX_DELIVERY + ("received",))
        self.assertEqual(["return-path", "x-original-to", "delivered-to", "received",
                          "received"], [n for n, _ in taken])
        self.assertEqual("Delivered-To: ümlaut@postfix.test", taken[2][1])
        self.assertRegex(taken[3][1], r" with UTF8SMTPS id ")  # Postfix: SMTPUTF8 over TLS
        self.assertEqual(msg.replace(b"\r\n", b"\n"), body)
        self.assertRegex(pf.log_text(), r"postfix/smtpd\[\d+\]: [0-9A-F]+: client=localhost")
        self.wait_spool_empty(t)

    def test_unknown_recipient_bounces_with_postfixs_reply(self):
        pf, t = self.pair()
        msg = message(ASCII_MESSAGE, "alice@example.test", "nobody@postfix.test",
                      "ternd unknown at postfix")
        self.submit_to_ternd(t, "alice@example.test", "nobody@postfix.test", msg)
        dsns = t.wait_messages("alice", 1)
        self.assertEqual(1, len(dsns), "no failure DSN for alice")
        failure_block(self, read(dsns[0]), "rfc822; nobody@postfix.test", "5.1.1",
                      "smtp; 550 5.1.1 <nobody@postfix.test>: Recipient address rejected: "
                      "User unknown in virtual mailbox table")
        self.wait_spool_empty(t)

    def test_large_message_byte_identical(self):
        pf, t = self.pair()
        msg = big_message("alice@example.test", "carol@postfix.test", "big to postfix",
                          3 * 1024 * 1024)
        self.submit_to_ternd(t, "alice@example.test", "carol@postfix.test", msg,
                             mail_options=["BODY=8BITMIME"])
        found = pf.wait_messages("carol", 1, timeout=30)
        self.assertEqual(1, len(found), "nothing in carol's Maildir")
        mail, _ = self.ternd_transaction(pf, "carol@postfix.test")
        self.assertRegex(mail, r"^MAIL FROM:<alice@example\.test> SIZE=\d+ BODY=8BITMIME$")
        taken, body = split_headers(read(found[0]), POSTFIX_DELIVERY + ("received",))
        self.assertEqual(5, len(taken), taken)
        self.assertEqual(msg.replace(b"\r\n", b"\n"), body)
        self.wait_spool_empty(t, timeout=30)

    def test_dsn_notify_success_comes_back_from_postfix(self):
        pf, t = self.pair()
        msg = message(ASCII_MESSAGE, "alice@example.test", "carol@postfix.test",
                      "ternd dsn round trip")
        self.submit_to_ternd(t, "alice@example.test", "carol@postfix.test", msg,
                             mail_options=["RET=HDRS", "ENVID=tern-envid-7"],
                             rcpt_options=["NOTIFY=SUCCESS", "ORCPT=rfc822;carol@postfix.test"])
        self.assertEqual(1, len(pf.wait_messages("carol", 1)))
        mail, rcpt = self.ternd_transaction(pf, "carol@postfix.test")
        self.assertRegex(mail, r"^MAIL FROM:<alice@example\.test> SIZE=\d+ RET=HDRS "
                               r"ENVID=tern-envid-7$")
        self.assertEqual("RCPT TO:<carol@postfix.test> NOTIFY=SUCCESS "
                         "ORCPT=rfc822;carol@postfix.test", rcpt)
        # Postfix passes nothing on (final delivery): its own "delivered" DSN goes to alice,
        # through its relayhost (ternd), into alice's Maildir.
        delivered_dsn_to(self, t, "alice", "pf.postfix.test", "tern-envid-7",
                         "rfc822; carol@postfix.test", "rfc822;carol@postfix.test")
        # ternd passed the DSN request on (Postfix offers DSN): no "relayed" DSN of its own.
        self.assert_no_more(lambda: len(t.messages("alice")), 1)
        self.wait_spool_empty(t)


if __name__ == "__main__":
    unittest.main()
