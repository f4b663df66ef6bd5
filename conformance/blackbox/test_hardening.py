"""Black-box tests of what an outside probe of ternd found (issue 16), against the real
daemon on 127.0.0.1: each case failed before its fix. Loops that probe floods and slow
clients are bounded; nothing but 127.0.0.1 is ever contacted.

Run with `run.sh /path/to/ternd` (or TERND=/path/to/ternd python3 -m unittest test_hardening).
"""
import os
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import HOST, Client, Ternd, make_cert, plain_b64, ternd_binary  # noqa: E402
from harness import DEMO_PASSWORD  # noqa: E402
from test_ternd import CERT_DIR, TerndCase, blackhole  # noqa: E402,F401
import test_ternd  # noqa: E402


def setUpModule():
    test_ternd.setUpModule()


def tearDownModule():
    test_ternd.tearDownModule()


def mode(path):
    return stat.S_IMODE(os.stat(path).st_mode)


class RequireTlsTests(TerndCase):
    listeners = {"smtp": {}}

    def test_requiretls_is_not_offered_nor_accepted(self):
        c = self.connect("smtp", ehlo=False)
        c.cmd("STARTTLS")
        c.starttls()
        code, lines = c.ehlo()
        self.assertEqual(250, code)
        self.assertNotIn("REQUIRETLS", " ".join(lines))
        self.assertEqual((555, "5.5.4 REQUIRETLS parameter not supported"),
                         c.cmd("MAIL FROM:<a@remote.example> REQUIRETLS"))


class DuplicateRecipientTests(TerndCase):
    listeners = {"smtp": {}}

    def test_100_identical_rcpts_store_one_copy(self):
        c = self.connect("smtp")
        self.assertEqual(250, c.cmd("MAIL FROM:<a@remote.example>")[0])
        c.send(b"RCPT TO:<demo@example.test>\r\n" * 100)
        for _ in range(100):
            self.assertEqual(250, c.reply()[0])
        self.assertEqual(354, c.cmd("DATA")[0])
        c.send(b"Subject: once\r\n\r\n" + (b"x" * 900 + b"\r\n") * 10 + b".\r\n")
        self.assertEqual(250, c.reply()[0])
        self.one_message("demo")


class BdatSizeTests(TerndCase):
    listeners = {"smtp": {}}
    extra = "\n[session.data.limits]\nsize = 1000000\n"

    def test_oversize_bdat_drops_the_temp_file_at_once(self):
        c = self.connect("smtp")
        self.assertEqual(250, c.cmd("MAIL FROM:<a@remote.example>")[0])
        self.assertEqual(250, c.cmd("RCPT TO:<demo@example.test>")[0])
        c.send(b"BDAT 600000\r\n" + (b"x" * 98 + b"\r\n") * 6000)  # past the in-memory 128 KiB
        self.assertEqual(250, c.reply()[0])
        tmp = os.path.join(self.ternd.spool, "tmp")
        self.assertTrue(os.listdir(tmp), "the first chunk is in a temp file")
        c.send(b"BDAT 600000 LAST\r\n" + (b"y" * 98 + b"\r\n") * 6000)
        self.assertEqual(552, c.reply()[0])
        self.assertEqual((250, "2.0.0 OK"), c.cmd("NOOP"))  # the session is still open
        self.assertEqual([], os.listdir(tmp))


class NulAndLongLineTests(TerndCase):
    """The NUL tricks of the public smuggling scanners (hannob's smtpsmug, The-Login's
    SMTP-Smuggling-Tools), re-expressed: a NUL never ends the data, and the message that
    carries one is refused, so it can never reach a next hop that strips NULs. A text BDAT
    body obeys DATA's line limit, so it can never be relayed over DATA with a 5,000-octet
    line."""
    listeners = {"smtp": {}}

    SMUGGLED = (b"MAIL FROM:<evil@remote.example>\r\nRCPT TO:<alice@example.test>\r\nDATA\r\n"
                b"Subject: smuggled\r\n\r\nevil\r\n")

    def check_data(self, seq):
        c = self.connect("smtp")
        self.assertEqual(250, c.cmd("MAIL FROM:<sender@remote.example>")[0])
        self.assertEqual(250, c.cmd("RCPT TO:<demo@localhost>")[0])
        self.assertEqual(354, c.cmd("DATA")[0])
        c.send(b"Subject: first\r\n\r\nline one" + seq + self.SMUGGLED)
        self.assertFalse(c.has_pending(0.5), "reply before the end of data: %r" % c.buf)
        c.send(b".\r\n")
        self.assertEqual((550, "5.6.0 Message refused: a NUL octet in the body"), c.reply_line())
        self.assertEqual((503, "5.5.1 Need MAIL before RCPT"), c.cmd("RCPT TO:<alice@example.test>"))
        time.sleep(0.3)
        self.assertEqual([], self.ternd.messages("demo"))
        self.assertEqual([], self.ternd.messages("alice"))

    def test_crlf_nul_dot_crlf(self):
        self.check_data(b"\r\n\x00.\r\n")

    def test_crlf_dot_nul_crlf(self):
        self.check_data(b"\r\n.\x00\r\n")

    def test_nul_in_a_line(self):
        self.check_data(b"\x00\r\n")

    def test_bdat_nul_and_long_line_refused_binarymime_not(self):
        c = self.connect("smtp")
        for body, expected in ((b"a\r\n\x00.\r\n", "5.6.0 Message refused: a NUL octet in the body"),
                               (b"x" * 5000 + b"\r\n",
                                "5.6.0 Message refused: a line is longer than 1000 octets")):
            self.assertEqual(250, c.cmd("MAIL FROM:<sender@remote.example>")[0])
            self.assertEqual(250, c.cmd("RCPT TO:<demo@localhost>")[0])
            c.send(b"BDAT %d LAST\r\n" % len(body) + body)
            self.assertEqual((550, expected), c.reply_line())
            self.assertEqual(250, c.cmd("RSET")[0])
        body = b"Subject: binary\r\n\r\n" + b"x" * 5000 + b"\x00\r\n"
        self.assertEqual(250, c.cmd("MAIL FROM:<sender@remote.example> BODY=BINARYMIME")[0])
        self.assertEqual(250, c.cmd("RCPT TO:<demo@localhost>")[0])
        c.send(b"BDAT %d LAST\r\n" % len(body) + body)
        self.assertEqual(250, c.reply_line()[0])
        self.assertTrue(self.one_message("demo").endswith(body))


class EightBitTraceTests(TerndCase):
    listeners = {"smtp": {}}

    def test_utf8_ehlo_needs_smtputf8_and_bidi_controls_are_refused(self):
        c = self.connect("smtp", ehlo=False)
        c.send("EHLO café.example\r\n".encode())
        self.assertEqual(250, c.reply()[0])
        self.assertEqual(553, c.cmd("MAIL FROM:<a@remote.example>")[0])
        self.assertEqual(250, c.cmd("MAIL FROM:<a@remote.example> SMTPUTF8")[0])
        c.send("RCPT TO:<demo\u202egpj.exe@example.test>\r\n".encode())
        self.assertEqual(501, c.reply()[0])
        self.assertEqual(250, c.cmd("RCPT TO:<demo@example.test>")[0])


class RecipientFloodTests(TerndCase):
    """Enumeration: each refused recipient waits session.rcpt.errors.wait, and the
    connection closes after session.rcpt.errors.total refusals (N answered, N+1 closes)."""
    listeners = {"smtp": {}}
    extra = '\n[session.rcpt]\nerrors.total = 3\nerrors.wait = "300ms"\n'

    def test_refusals_are_slowed_and_end_the_session_at_n_plus_1(self):
        c = self.connect("smtp")
        self.assertEqual(250, c.cmd("MAIL FROM:<a@remote.example>")[0])
        for i in range(3):
            start = time.monotonic()
            self.assertEqual((550, "5.1.1 Mailbox does not exist"),
                             c.cmd("RCPT TO:<nobody%d@example.test>" % i))
            self.assertGreaterEqual(time.monotonic() - start, 0.25)
        self.assertEqual(250, c.cmd("RCPT TO:<demo@example.test>")[0])
        self.assertEqual(550, c.cmd("RCPT TO:<nobody@example.test>")[0])
        self.assertEqual((421, "4.7.0 mx.example.test Too many rejected recipients, closing "
                               "connection"), c.reply_line())
        with self.assertRaises((EOFError, OSError)):
            c.cmd("NOOP")


class AuthLockoutTests(TerndCase):
    """Brute force: failures from one address count across connections; once locked, even
    the right password gets 454 4.7.0 (the directory is not asked)."""
    listeners = {"submission": {}}
    extra = '\n[session.auth.lockout]\nip = 4\naccount = 0\nwindow = "10m"\n'

    def attempt(self, password):
        c = self.connect_tls("submission")
        reply = c.cmd("AUTH PLAIN " + plain_b64("demo", password))
        c.close()
        return reply

    def test_the_address_is_locked_across_reconnects(self):
        for _ in range(4):
            self.assertEqual(535, self.attempt("wrong")[0])
        self.assertEqual((454, "4.7.0 Too many failed authentications, try again later"),
                         self.attempt(DEMO_PASSWORD))
        time.sleep(0.2)
        self.assertIn("AUTH lockout: 127.0.0.1", self.ternd.log_text())


SLOW_HASH = ("$6$rounds=200000$saltsalt$KIxokzdpd7LKAYpcFF2gzdBmn/H5QW5uzrQTMGe5wOOY04iJwz7bq6Vs"
             "rGlmj40xZRvV///sdvBQWCaURFvL61")  # crypt('secret', '$6$rounds=200000$saltsalt$')


class AuthTimingTests(TerndCase):
    """A wrong password for a real user and any password for an unknown user are answered
    at the same time, however long the hash takes (it ran only for real users)."""
    listeners = {"submission": {}}
    auth_wait = "1s"
    directory = ('[directory.local]\ntype = "memory"\nlookup.domains = ["example.test"]\n'
                 'principals = [{ name = "slow", secret = "%s", email = ["slow@example.test"] }]\n'
                 % SLOW_HASH)

    def setUp(self):
        pass  # no demo/alice/bob mailboxes here

    def elapsed(self, user):
        c = self.connect_tls("submission")
        start = time.monotonic()
        self.assertEqual(535, c.cmd("AUTH PLAIN " + plain_b64(user, "wrong"))[0])
        took = time.monotonic() - start
        c.close()
        return took

    def test_unknown_user_and_wrong_password_take_the_same_time(self):
        real = sorted(self.elapsed("slow") for _ in range(3))[1]
        unknown = sorted(self.elapsed("nobody") for _ in range(3))[1]
        self.assertGreaterEqual(min(real, unknown), 0.95)
        self.assertLess(abs(real - unknown), 0.05, "real %.3fs, unknown %.3fs" % (real, unknown))


class BackscatterTests(TerndCase):
    """Unauthenticated mail to <postmaster> with a forged sender was accepted, failed routing,
    and the failure DSN carried the content to the victim. <Postmaster> is the postmaster of
    server.hostname now (mx.example.test is no local domain here: refused, not bounced)."""
    listeners = {"smtp": {}}

    def test_bare_postmaster_is_refused_when_it_cannot_be_delivered(self):
        c = self.connect("smtp")
        self.assertEqual(250, c.cmd("MAIL FROM:<victim@evil.example>")[0])
        self.assertEqual((550, "5.7.1 Relay access denied"), c.cmd("RCPT TO:<postmaster>"))
        self.assertEqual(554, c.cmd("DATA")[0])
        time.sleep(0.5)
        self.assertNotIn("queued as", self.ternd.log_text(), "nothing was queued, so no DSN")


class PostmasterDeliveryTests(TerndCase):
    """With server.hostname a local domain that has a postmaster, <Postmaster> is delivered."""
    listeners = {"smtp": {}}
    directory = ('[directory.local]\ntype = "memory"\nlookup.domains = ["mx.example.test"]\n'
                 'principals = [{ name = "pm", secret = "{PLAIN}x", '
                 'email = ["postmaster@mx.example.test"] }]\n')

    def setUp(self):
        pass

    def test_bare_postmaster_reaches_the_local_postmaster(self):
        c = self.connect("smtp")
        self.assertEqual(250, c.cmd("MAIL FROM:<someone@remote.example>")[0])
        self.assertEqual(250, c.cmd("RCPT TO:<Postmaster>")[0])
        self.assertEqual(354, c.cmd("DATA")[0])
        c.send(b"Subject: hi\r\n\r\nhello\r\n.\r\n")
        self.assertEqual(250, c.reply()[0])
        found = self.ternd.wait_messages("pm", 1)
        self.assertEqual(1, len(found))
        with open(found[0], "rb") as f:
            self.assertIn(b"Delivered-To: postmaster@mx.example.test", f.read())


class SlowClientTests(TerndCase):
    """Slowloris: a command line dripped a byte at a time meets the command timeout; one
    address holds at most its share of the slots, so others still get 220."""
    listeners = {"smtp": {}}
    server_keys = 'timeout.command = "2s"'

    def test_a_dripped_command_line_times_out(self):
        c = Client(self.ternd.port("smtp"))
        self.addCleanup(c.close)
        self.assertEqual(220, c.reply()[0])
        start = time.monotonic()
        closed = False
        for byte in b"EHLO slowloris.example":  # bounded: 22 bytes, 0.5 s apart
            try:
                c.send(bytes([byte]))
            except OSError:
                closed = True
                break
            time.sleep(0.5)
            if c.has_pending(0.01):
                break
        if not closed:
            code, lines = c.reply()
            self.assertEqual(421, code)
            self.assertIn("Timeout exceeded", lines[0])
        self.assertLess(time.monotonic() - start, 6, "closed at the timeout, not at the end")


class PerIpShareTests(TerndCase):
    listeners = {"smtp": {}}
    server_keys = "max-connections = 8\nmax-connections-per-ip-share = 25"

    def test_one_address_holds_at_most_its_share(self):
        # server.max-connections = 8 and a 25% share: 2 per address (N), the 3rd gets 421.
        held = []
        for _ in range(2):
            c = Client(self.ternd.port("smtp"))
            self.addCleanup(c.close)
            self.assertEqual(220, c.reply()[0])
            held.append(c)
        c = Client(self.ternd.port("smtp"))
        self.addCleanup(c.close)
        self.assertEqual(421, c.reply()[0])


class StorageModeTests(unittest.TestCase):
    """Folders and files ternd creates are private whatever the umask; a key file open to
    others is refused; `ternd --check` fails exactly where the start would."""

    def setUp(self):
        self.cert_dir = tempfile.mkdtemp(prefix="ternd-bb-modes-")
        self.addCleanup(shutil.rmtree, self.cert_dir, True)

    def ternd(self, cert=None, spool=None):
        t = Ternd({"smtp": {}}, extra=blackhole(), cert=cert)
        self.addCleanup(t.cleanup)
        if spool is not None:
            t.spool = spool
            t.write_config(t.render())
        return t

    def check(self, t):
        return subprocess.run([ternd_binary(), "--check", "--config", t.config_path],
                              capture_output=True, text=True)

    def start_status(self, t):
        """Exit status of a start that fails, or None once it is ready (then stopped)."""
        try:
            t.start()
        except RuntimeError:
            return t.proc.returncode
        t.stop()
        return None

    def test_umask_000_still_gives_private_folders_and_key(self):
        t = self.ternd()  # no certificate: ternd makes a self-signed one under the spool
        old = os.umask(0)
        try:
            t.start()
        finally:
            os.umask(old)
        t.stop()
        self.assertEqual(0o700, mode(t.spool))
        self.assertEqual(0o700, mode(os.path.join(t.spool, "tls")))
        self.assertEqual(0o600, mode(os.path.join(t.spool, "tls", "self-signed.key")))
        for sub in ("tmp", "log", "body"):
            self.assertEqual(0o700, mode(os.path.join(t.spool, sub)), sub)
        self.assertEqual(0o700, mode(t.maildir))

    def test_a_key_file_open_to_others_is_refused_by_check_and_start(self):
        cert, key = make_cert(self.cert_dir)
        os.chmod(key, 0o644)
        t = self.ternd(cert=(cert, key))
        checked = self.check(t)
        self.assertEqual(2, checked.returncode, checked.stderr)
        self.assertIn("holds a secret and is open to others (mode 644)", checked.stderr)
        self.assertEqual(2, self.start_status(t))
        os.chmod(key, 0o600)
        self.assertEqual(0, self.check(t).returncode)

    def test_a_lax_spool_folder_is_refused_by_check_and_start(self):
        t = self.ternd()
        os.makedirs(t.spool)
        os.chmod(t.spool, 0o777)
        checked = self.check(t)
        self.assertEqual(2, checked.returncode, checked.stderr)
        self.assertIn("'storage.spool': the spool folder '%s' is writable by group or others"
                      % t.spool, checked.stderr)
        self.assertEqual(2, self.start_status(t))

    def test_check_and_start_agree_on_a_missing_spool_parent(self):
        cert, key = make_cert(self.cert_dir)
        # Missing parents are created (each 0700): --check passes and so does the start.
        t = self.ternd(cert=(cert, key), spool=os.path.join(self.cert_dir, "a", "b", "spool"))
        self.assertEqual(0, self.check(t).returncode, self.check(t).stderr)
        self.assertIsNone(self.start_status(t), t.log_text()[-2000:])
        self.assertEqual(0o700, mode(os.path.join(self.cert_dir, "a")))
        # A parent that is a file: both refuse.
        blocker = os.path.join(self.cert_dir, "file")
        open(blocker, "w").close()
        t2 = self.ternd(cert=(cert, key), spool=os.path.join(blocker, "spool"))
        checked = self.check(t2)
        self.assertEqual(2, checked.returncode, checked.stderr)
        self.assertIn("cannot be created: '%s' is not a folder" % blocker, checked.stderr)
        self.assertEqual(2, self.start_status(t2))


if __name__ == "__main__":
    unittest.main()
