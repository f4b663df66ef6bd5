"""Real submission clients against ternd's submission listener (issue 9): swaks, Python's
smtplib and msmtp, each with STARTTLS and AUTH PLAIN as alice; the message must land in
bob's Maildir byte for byte after ternd's Return-Path, Delivered-To and Received (ESMTPSA:
TLS and AUTH, RFC 3848). Without AUTH, or with a wrong password, the client must fail.
"""
import os
import smtplib
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import interop  # noqa: E402
from interop import ASCII_MESSAGE, InteropCase, make_ternd, message, read, split_headers  # noqa: E402
from harness import free_port  # noqa: E402

SWAKS = "/usr/bin/swaks"
MSMTP = "/usr/bin/msmtp"


def setUpModule():
    interop.make_module_cert()


def tearDownModule():
    interop.remove_module_cert()


class ClientCase(InteropCase):
    def setUp(self):
        self.t = make_ternd(free_port())  # no peer: every recipient here is local
        self.keep(self.t, "ternd")
        self.addCleanup(self.dump_log_on_failure, self.t)
        self.t.start()
        self.port = self.t.port("submission")
        self.work = tempfile.mkdtemp(prefix="clients-interop-")
        self.addCleanup(subprocess.run, ["rm", "-rf", self.work])

    def write(self, name, data, mode=0o600):
        path = os.path.join(self.work, name)
        with open(path, "wb") as f:
            f.write(data)
        os.chmod(path, mode)
        return path

    def assert_landed(self, msg):
        """bob's one message: ternd's three fields, then msg (CRLF) exactly."""
        found = self.t.wait_messages("bob", 1)
        self.assertEqual(1, len(found), "nothing in bob's Maildir")
        taken, body = split_headers(read(found[0]), ("return-path", "delivered-to", "received"))
        self.assertEqual(["return-path", "delivered-to", "received"], [n for n, _ in taken])
        self.assertEqual("Return-Path: <alice@example.test>", taken[0][1])
        self.assertEqual("Delivered-To: bob@example.test", taken[1][1])
        self.assertRegex(taken[2][1], r"^Received: from client\.example\.net \(\[127\.0\.0\.1\]\) "
                                      r"by mx\.example\.test \(Tern\) with ESMTPSA id [0-9A-F]{16} "
                                      r"\(using TLSv1\.[23] with cipher \S+ \(\d+ bits\)\) "
                                      r"for <bob@example\.test>; ")
        self.assertEqual(msg, body)
        self.wait_spool_empty(self.t)
        self.assertEqual(1, len(self.t.messages("bob")))


class Swaks(ClientCase):
    def swaks(self, msg, *extra):
        # swaks ends DATA with CRLF "." CRLF after the file: the file's last line end is
        # that CRLF.
        path = self.write("msg.eml", msg.replace(b"\r\n", b"\n")[:-1])
        return subprocess.run([SWAKS, "--server", "127.0.0.1", "--port", str(self.port),
                               "--ehlo", "client.example.net", "--from", "alice@example.test",
                               "--to", "bob@example.test", "--data", "@" + path, "--tls"]
                              + list(extra), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              timeout=60)

    def test_starttls_auth_plain_pipelined(self):
        msg = message(ASCII_MESSAGE, "alice@example.test", "bob@example.test", "swaks")
        done = self.swaks(msg, "--auth", "PLAIN", "--auth-user", "alice",
                          "--auth-password", "alice-pw", "--pipeline")
        out = done.stdout.decode("utf-8", "replace")
        self.assertEqual(0, done.returncode, out)
        self.assertIn("<~  235 2.7.0 Authentication successful", out)
        self.assertRegex(out, r"<~  250 2\.0\.0 Ok: queued as [0-9A-F]{16}")
        self.assert_landed(msg)

    def test_without_auth_is_refused(self):
        msg = message(ASCII_MESSAGE, "alice@example.test", "bob@example.test", "swaks no auth")
        done = self.swaks(msg)
        out = done.stdout.decode("utf-8", "replace")
        self.assertNotEqual(0, done.returncode, out)
        self.assertRegex(out, r"<~\* 530 5\.7\.0 Authentication required\n")
        self.assertEqual([], self.t.wait_messages("bob", 1, timeout=1.0))

    def test_wrong_password_is_refused(self):
        msg = message(ASCII_MESSAGE, "alice@example.test", "bob@example.test", "swaks bad pw")
        done = self.swaks(msg, "--auth", "PLAIN", "--auth-user", "alice",
                          "--auth-password", "not-alice-pw")
        out = done.stdout.decode("utf-8", "replace")
        self.assertNotEqual(0, done.returncode, out)
        self.assertRegex(out, r"<~\* 535 5\.7\.8 Authentication credentials invalid\n")
        self.assertEqual([], self.t.wait_messages("bob", 1, timeout=1.0))


class Smtplib(ClientCase):
    def context(self):
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        return ctx

    def test_starttls_auth(self):
        msg = message(ASCII_MESSAGE, "alice@example.test", "bob@example.test", "smtplib")
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example.net",
                          timeout=20) as s:
            s.ehlo()
            self.assertNotIn("auth", s.esmtp_features)  # AUTH only after TLS
            s.starttls(context=self.context())
            s.ehlo()
            self.assertEqual("PLAIN LOGIN", s.esmtp_features["auth"].strip())
            code, text = s.login("alice", "alice-pw")
            self.assertEqual(235, code)
            self.assertEqual({}, s.sendmail("alice@example.test", ["bob@example.test"], msg))
        self.assert_landed(msg)

    def test_auth_login_mechanism(self):
        msg = message(ASCII_MESSAGE, "alice@example.test", "bob@example.test", "smtplib login")
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example.net",
                          timeout=20) as s:
            s.starttls(context=self.context())
            s.ehlo()
            s.user, s.password = "alice", "alice-pw"
            code, _ = s.auth("LOGIN", s.auth_login)
            self.assertEqual(235, code)
            self.assertEqual({}, s.sendmail("alice@example.test", ["bob@example.test"], msg))
        self.assert_landed(msg)

    def test_sender_must_be_the_users_own(self):
        with smtplib.SMTP("127.0.0.1", self.port, local_hostname="client.example.net",
                          timeout=20) as s:
            s.starttls(context=self.context())
            s.ehlo()
            s.login("alice", "alice-pw")
            code, text = s.mail("bob@example.test")
            self.assertEqual(553, code, text)
            self.assertTrue(text.startswith(b"5.7.1 "), text)


class Msmtp(ClientCase):
    def msmtp(self, msg, password):
        log = os.path.join(self.work, "msmtp.log")
        conf = self.write("msmtprc", (
            "defaults\n"
            "tls on\ntls_starttls on\ntls_certcheck off\n"
            "logfile %s\n\n"
            "account tern\nhost 127.0.0.1\nport %d\ndomain client.example.net\n"
            "from alice@example.test\nauth plain\nuser alice\npassword %s\n"
            % (log, self.port, password)).encode())
        done = subprocess.run([MSMTP, "-C", conf, "-a", "tern", "bob@example.test"],
                              input=msg.replace(b"\r\n", b"\n"), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, timeout=60)
        return done, (read(log).decode("utf-8", "replace") if os.path.exists(log) else "")

    def test_starttls_auth_plain(self):
        msg = message(ASCII_MESSAGE, "alice@example.test", "bob@example.test", "msmtp")
        done, log = self.msmtp(msg, "alice-pw")
        self.assertEqual(0, done.returncode, done.stdout.decode("utf-8", "replace"))
        self.assertRegex(log, r"tls=on auth=on user=alice from=alice@example\.test "
                              r"recipients=bob@example\.test .*smtpstatus=250 "
                              r"smtpmsg='250 2\.0\.0 Ok: queued as [0-9A-F]{16}' exitcode=EX_OK")
        self.assert_landed(msg)

    def test_wrong_password_fails(self):
        msg = message(ASCII_MESSAGE, "alice@example.test", "bob@example.test", "msmtp bad")
        done, log = self.msmtp(msg, "wrong")
        self.assertNotEqual(0, done.returncode)
        self.assertRegex(log, r"smtpstatus=535 .*exitcode=EX_NOPERM")
        self.assertEqual([], self.t.wait_messages("bob", 1, timeout=1.0))


if __name__ == "__main__":
    unittest.main()
