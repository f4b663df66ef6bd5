"""Black-box tests of `tern queue` (issue 7) against a real ternd, through the real `tern`
binary and ternd's control socket (`--socket <spool>/control.sock`).

The queue holds messages because their relay is down: remote "relay" on 127.0.0.1:<port>
where nothing listens until the test starts smtp-sink there. alice (local, origin.test)
submits with STARTTLS and AUTH, so the DSNs owed to her land in her Maildir.

Run with `TERND=/path/to/ternd python3 -m unittest -v test_queue_cli`; `tern` is taken from
$TERN, else beside $TERND. Every peer is stopped by its pid in the test's cleanups.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import Client, Ternd, make_cert, plain_b64, ternd_binary  # noqa: E402
from peers import (LogOnFailure, SmtpSink, envelope, spool_ids, split_first_header,  # noqa: E402
                   split_sink_dump, wait_until)

CERT_DIR = None
CERT = None
UNKNOWN_ID = "0123456789ABCDEF"
# The first retry comes 2 s after the first attempt (enough to see hold at work), the
# next ones only after 30 s: a delivery within a second of `retry` is the retry's doing.
RETRY = '["2s", "30s"]'

DIRECTORY = ('[directory.local]\ntype = "memory"\nlookup.domains = ["origin.test"]\n'
             'principals = [{ name = "alice", secret = "{PLAIN}alice-pw", '
             'email = ["alice@origin.test"] }]\n')


def relay_config(port):
    return ('[queue.outbound]\nnext-hop = [{ if = "is_local_domain(\'*\', rcpt_domain)", '
            'then = "\'local\'" }, { else = "\'relay\'" }]\n\n'
            '[queue.outbound.tls]\nmta-sts = "disable"\ndane = "disable"\n\n'
            '[queue.schedule]\nretry = %s\n\n'
            '[remote."relay"]\naddress = "127.0.0.1"\nport = %d\nprotocol = "smtp"\n\n'
            '[remote."relay".tls]\nimplicit = false\nstarttls = false\n' % (RETRY, port))


def tern_binary():
    return os.environ.get("TERN") or os.path.join(os.path.dirname(ternd_binary()), "tern")


def setUpModule():
    global CERT_DIR, CERT
    if not os.access(tern_binary(), os.X_OK):
        raise RuntimeError("%s is not an executable (set TERN)" % tern_binary())
    CERT_DIR = tempfile.mkdtemp(prefix="queue-cli-bb-cert-")
    CERT = make_cert(CERT_DIR)


def tearDownModule():
    if CERT_DIR:
        shutil.rmtree(CERT_DIR, ignore_errors=True)


def message(subject):
    return ("From: Alice <alice@origin.test>\r\nTo: <far@remote.example>\r\n"
            "Subject: %s\r\n\r\nbody line\r\n.dot line\r\n" % subject).encode()


class QueueCliCase(LogOnFailure, unittest.TestCase):

    def setUp(self):
        self.sink = SmtpSink()  # its port is the relay's; started only when a test says so
        self.addCleanup(self.sink.cleanup)
        self.t = Ternd({"submission": {}}, extra=relay_config(self.sink.port), cert=CERT,
                       directory=DIRECTORY, auth_require_on=("submission",))
        self.addCleanup(self.t.cleanup)
        self.addCleanup(self.dump_log_on_failure, self.t)
        self.t.start()
        self.socket = os.path.join(self.t.spool, "control.sock")
        self.refused = r"^451 4\.4\.0 connect 127\.0\.0\.1:%d: Connection refused$" % self.sink.port

    def tern(self, *args):
        """(exit status, stdout, stderr) of `tern queue ARGS --socket <spool>/control.sock`."""
        p = subprocess.run([tern_binary(), "queue"] + list(args) + ["--socket", self.socket],
                           capture_output=True, text=True, timeout=20)
        return p.returncode, p.stdout, p.stderr

    def tern_ok(self, *args):
        code, out, err = self.tern(*args)
        self.assertEqual(0, code, "tern queue %s: %r %r" % (" ".join(args), out, err))
        return out

    def submit(self, subject):
        c = Client(self.t.port("submission"))
        self.addCleanup(c.close)
        self.assertEqual(220, c.reply()[0])
        self.assertEqual(250, c.ehlo()[0])
        self.assertEqual(220, c.cmd("STARTTLS")[0])
        c.starttls()
        self.assertEqual(250, c.ehlo()[0])
        self.assertEqual(235, c.cmd("AUTH PLAIN " + plain_b64("alice", "alice-pw"))[0])
        self.assertEqual(250, c.cmd("MAIL FROM:<alice@origin.test>")[0])
        self.assertEqual(250, c.cmd("RCPT TO:<far@remote.example>")[0])
        self.assertEqual(354, c.cmd("DATA")[0])
        c.send(message(subject).replace(b"\r\n.", b"\r\n..") + b".\r\n")
        code, text = c.reply_line()
        self.assertEqual(250, code, text)
        c.cmd("QUIT")
        c.close()
        return re.match(r"^2\.0\.0 Ok: queued as ([0-9A-F]{16})$", text).group(1)

    def wait_spool_empty(self):
        self.assertTrue(wait_until(lambda: not spool_ids(self.t.spool), 5.0),
                        spool_ids(self.t.spool))

    @staticmethod
    def complete_dump(path):
        """The dump once smtp-sink has written all of it (it ends with an empty line)."""
        def read():
            with open(path, "rb") as f:
                data = f.read()
            return data if data.endswith(b"\n\n") else None
        return wait_until(read, 5.0) or read() or b""

    def wait_pending(self, qid):
        """The recipient once its first attempt (connection refused) is recorded."""
        def check():
            env = envelope(self.t.spool, qid)
            r = env and env["rcpts"][0]
            return r if r and r["attempts"] >= 1 else None
        r = wait_until(check, timeout=10.0)
        self.assertIsNotNone(r, envelope(self.t.spool, qid))
        self.assertEqual("pending", r["state"])
        self.assertRegex(r["last_reply"], self.refused)
        return r


class QueueCliTests(QueueCliCase):

    def test_list_json_show_hold_release_retry(self):
        qid = self.submit("queue cli hold")
        self.wait_pending(qid)
        port = self.sink.port

        # list: one message, 1 pending, the reason.
        lines = self.tern_ok("list").splitlines()
        self.assertEqual(2, len(lines), lines)
        self.assertRegex(lines[0], r"^ID +AGE +SIZE +SENDER +RECIPIENTS +NEXT +LAST ERROR$")
        self.assertRegex(lines[1], r"^%s +\d+s +\d+ +alice@origin\.test +1 pending / 0 delivered "
                                   r"/ 0 failed +(now|in \ds|in flight) +451 4\.4\.0 connect "
                                   r"127\.0\.0\.1:%d: Connection refused$" % (qid, port))

        # list --json: one object per line, with the recipient's state, attempts, last_reply.
        out = self.tern_ok("list", "--json")
        self.assertEqual(1, len(out.splitlines()), out)
        m = json.loads(out)
        self.assertEqual(qid, m["id"])
        self.assertEqual("alice@origin.test", m["sender"])
        self.assertFalse(m["held"])
        self.assertEqual(1, len(m["recipients"]))
        r = m["recipients"][0]
        self.assertEqual("far@remote.example", r["address"])
        self.assertEqual("pending", r["state"])
        self.assertEqual("remote relay", r["route"])
        self.assertIn(r["attempts"], (1, 2))  # a second attempt may come 2 s after the first
        self.assertRegex(r["last_reply"], self.refused)
        self.assertEqual(r["attempts"], len(r["history"]))
        self.assertEqual({"at_unix", "at", "route", "host", "reply"}, set(r["history"][0]))
        self.assertEqual("remote relay", r["history"][0]["route"])
        self.assertEqual("127.0.0.1:%d" % port, r["history"][0]["host"])
        self.assertRegex(r["history"][0]["reply"], self.refused)
        self.assertRegex(r["next_attempt"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")

        # show: the attempt history (time, route, host, reply).
        out = self.tern_ok("show", qid)
        self.assertIn("id: %s\n" % qid, out)
        self.assertIn("sender: alice@origin.test\n", out)
        self.assertIn("recipients: 1 pending / 0 delivered / 0 failed\n", out)
        self.assertRegex(out, r"\nrcpt far@remote\.example: pending, route remote relay, [12] "
                              r"attempts?, next attempt ")
        self.assertRegex(out, r"\n  last reply: 451 4\.4\.0 connect 127\.0\.0\.1:%d: Connection "
                              r"refused\n" % port)
        self.assertRegex(out, r"\n  at \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ via remote relay "
                              r"\(127\.0\.0\.1:%d\): 451 4\.4\.0 connect 127\.0\.0\.1:%d: "
                              r"Connection refused\n" % (port, port))

        # hold: the envelope says so, and nothing is tried past the retry time.
        self.tern_ok("hold", qid)
        env = envelope(self.t.spool, qid)
        self.assertEqual("1", env.get("held"), env)
        attempts = env["rcpts"][0]["attempts"]
        due = env["rcpts"][0]["next"]
        self.assertIn(" held ", self.tern_ok("list").splitlines()[1])
        while time.time() < due + 2.0:
            time.sleep(0.2)
        env = envelope(self.t.spool, qid)
        self.assertEqual(attempts, env["rcpts"][0]["attempts"], env)
        self.assertEqual("1", env.get("held"), env)

        # release: the envelope no longer says held, and the overdue recipient is tried at
        # once; the relay is still down, so it stays pending with the next try 30 s later.
        self.tern_ok("release", qid)
        self.assertNotIn("held", envelope(self.t.spool, qid))
        # (ternd writes the attempt's outcome first and its next time in a second write.)
        r = wait_until(lambda: (lambda r: r if r["attempts"] == attempts + 1 and r["history"]
                                and r["next"] > r["history"][-1]["at"] else None)(
            envelope(self.t.spool, qid)["rcpts"][0]), 5.0)
        self.assertIsNotNone(r, envelope(self.t.spool, qid))
        self.assertEqual("pending", r["state"])
        self.assertEqual(attempts + 1, len(r["history"]))
        self.assertGreaterEqual(r["history"][-1]["at"], due + 2)  # not before the release
        self.assertEqual(r["history"][-1]["at"] + 30, r["next"])
        code, out, err = self.tern("release", qid)
        self.assertEqual(1, code, (out, err))  # not held any more

        # The relay comes up; retry delivers at once (the schedule would wait 30 s).
        wait_until(lambda: not json.loads(self.tern_ok("show", qid, "--json"))["in_flight"], 5.0)
        self.sink.start()
        started = time.monotonic()
        self.tern_ok("retry", qid)
        files = self.sink.wait_files(1, timeout=10.0)
        self.assertLess(time.monotonic() - started, 3.0)
        self.assertEqual(1, len(files))
        self.wait_spool_empty()
        _, rest = split_sink_dump(self.complete_dump(files[0]))
        received, after = split_first_header(rest)
        self.assertRegex(re.sub(r"\n[ \t]+", " ", received),
                         r"^Received: from client\.example\.net \(\[127\.0\.0\.1\]\) by "
                         r"mx\.example\.test \(Tern\) with ESMTPSA id %s " % qid)
        self.assertEqual(message("queue cli hold").replace(b"\r\n", b"\n"), after)

        # The queue is empty: the list is its header alone, the JSON list nothing. (The
        # removal record is on disk before it is durable; ternd forgets the message only
        # once it is, and removals ride on the next fdatasync: a few ms later.)
        header = "ID  AGE  SIZE  SENDER  RECIPIENTS  NEXT  LAST ERROR\n"
        wait_until(lambda: self.tern_ok("list") == header, 5.0)
        self.assertEqual(header, self.tern_ok("list"))
        self.assertEqual("", self.tern_ok("list", "--json"))
        self.assertEqual([], self.t.messages("alice"))  # no DSN of any kind

    def test_delete_sends_a_dsn_and_silent_sends_none(self):
        loud = self.submit("queue cli delete loud")
        quiet = self.submit("queue cli delete quiet")
        self.wait_pending(loud)
        self.wait_pending(quiet)
        self.assertEqual(2, len(self.tern_ok("list", "--json").splitlines()))

        self.tern_ok("delete", loud)
        self.assertTrue(wait_until(lambda: envelope(self.t.spool, loud) is None, 5.0))
        dsns = self.t.wait_messages("alice", 1, timeout=10.0)
        self.assertEqual(1, len(dsns))
        with open(dsns[0], "rb") as f:
            data = f.read().decode("utf-8", "replace")
        self.assertTrue(data.startswith("Return-Path: <>\r\nDelivered-To: alice@origin.test\r\n"),
                        data[:200])
        self.assertIn("\r\nFinal-Recipient: rfc822; far@remote.example\r\n", data)
        self.assertIn("\r\nAction: failed\r\n", data)
        self.assertIn("\r\nStatus: 5.0.0\r\n", data)
        self.assertIn("\r\nDiagnostic-Code: smtp; 550 5.0.0 deleted from the queue by the "
                      "administrator\r\n", data)
        self.assertIn("Subject: queue cli delete loud", data)
        self.assertNotIn("queue cli delete quiet", data)

        self.tern_ok("delete", quiet, "--silent")
        self.assertTrue(wait_until(lambda: envelope(self.t.spool, quiet) is None, 5.0))
        self.wait_spool_empty()
        time.sleep(1.0)  # a DSN would be spooled and delivered within this
        self.assertEqual(dsns, self.t.messages("alice"))
        self.assertEqual("", self.tern_ok("list", "--json"))
        self.assertEqual([], self.sink.files())

    def test_unknown_id_exits_1(self):
        for args in (["show", UNKNOWN_ID], ["retry", UNKNOWN_ID], ["hold", UNKNOWN_ID],
                     ["release", UNKNOWN_ID], ["delete", UNKNOWN_ID],
                     ["delete", UNKNOWN_ID, "--silent"]):
            code, out, err = self.tern(*args)
            self.assertEqual(1, code, (args, out, err))
            self.assertEqual("", out, args)
            self.assertNotEqual("", err, args)

    def test_ternd_stopped_exits_69(self):
        self.assertEqual(0, self.tern("list")[0])
        self.assertEqual(0, self.t.stop())
        for args in (["list"], ["list", "--json"], ["show", UNKNOWN_ID], ["retry", "--all"]):
            code, out, err = self.tern(*args)
            self.assertEqual(69, code, (args, out, err))
            self.assertEqual("", out, args)


if __name__ == "__main__":
    unittest.main()
