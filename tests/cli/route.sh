#!/usr/bin/env bash
# Black-box test of `tern route` on the routing seed's examples: plain, --json and
# --explain output, facts given with --var, and a misspelled remote id refused (exit 2)
# instead of silently routed to MX.
set -uo pipefail
tern=${1:?tern binary}
source "$(dirname "$0")/expect.sh"
cd "$(dirname "$0")/fixtures"

expect "relay plain" 0 \
"ann@example.org: remote relay (smtp relay.example.org:25, tls starttls)
Joe@gmail.com: remote relay (smtp relay.example.org:25, tls starttls)" \
  -- "$tern" route --config route-relay.toml --from a@x.org --to ann@example.org --to Joe@GMAIL.com

expect "relay json" 0 \
'{"rcpt":"Joe@gmail.com","route":"remote","remote":"relay","protocol":"smtp","address":"relay.example.org","port":25,"tls":"starttls","allow_invalid_certs":false,"auth":null,"rule":1}' \
  -- "$tern" route --config route-relay.toml --from a@x.org --to Joe@GMAIL.com --json

expect "lmtp plain" 0 \
"ann@example.org: remote lmtp (lmtp localhost:24, tls starttls, invalid certificates allowed, auth as relay_server)
joe@gmail.com: mx gmail.com (mta-sts optional, dane optional, starttls optional)
x@example.net: remote lmtp (lmtp localhost:24, tls starttls, invalid certificates allowed, auth as relay_server)" \
  -- "$tern" route --config route-lmtp.toml --from a@x.org --to ann@Example.ORG --to joe@gmail.com --to x@example.net

expect "lmtp json" 0 \
'{"rcpt":"ann@example.org","route":"remote","remote":"lmtp","protocol":"lmtp","address":"localhost","port":24,"tls":"starttls","allow_invalid_certs":true,"auth":"relay_server","rule":1}
{"rcpt":"joe@gmail.com","route":"mx","domain":"gmail.com","mta_sts":"optional","dane":"optional","starttls":"optional","rule":2}' \
  -- "$tern" route --config route-lmtp.toml --from a@x.org --to ann@example.org --to joe@gmail.com --json

expect "lmtp explain" 0 \
"rcpt ann@example.org (rcpt_domain 'example.org'), rules of queue.outbound.next-hop:
  rule 1 at route-lmtp.toml:4:21: if is_local_domain('', rcpt_domain)
    rcpt_domain = 'example.org'
    is_local_domain('', 'example.org') = true (directory 'local': an address of principal 'ann')
    condition is true: then 'lmtp'
  route: remote lmtp (lmtp localhost:24, tls starttls, invalid certificates allowed, auth as relay_server)
rcpt joe@gmail.com (rcpt_domain 'gmail.com'), rules of queue.outbound.next-hop:
  rule 1 at route-lmtp.toml:4:21: if is_local_domain('', rcpt_domain)
    rcpt_domain = 'gmail.com'
    is_local_domain('', 'gmail.com') = false (directory 'local' does not list it)
    condition is false: next rule
  rule 2 at route-lmtp.toml:5:23: else
    then false: deliver by DNS MX
  route: mx gmail.com (mta-sts optional, dane optional, starttls optional)" \
  -- "$tern" route --config route-lmtp.toml --from a@x.org --to ann@example.org --to joe@gmail.com --explain

expect "facts from --var" 0 \
"rcpt a@b.org (rcpt_domain 'b.org'), rules of queue.outbound.next-hop:
  rule 1 at route-submission.toml:3:21: if listener == 'submission' && priority >= 0
    listener = 'submission'
    priority = 1
    condition is true: then 'relay'
  route: remote relay (smtp smtp.example.com:465, tls implicit, auth as tern)" \
  -- "$tern" route --config route-submission.toml --to a@b.org --var listener=submission --var priority=1 --explain

expect "without the fact: MX" 0 "a@b.org: mx b.org (mta-sts optional, dane optional, starttls optional)" \
  -- "$tern" route --config route-submission.toml --to a@b.org

misspelled="route-misspelled.toml:2:64: 'queue.outbound.next-hop' rule 1 routes to remote 'lmpt', which is not defined (did you mean 'lmtp'?); define [remote.\"lmpt\"], or use 'local', or false for DNS MX"
expect "misspelled remote: route refuses" 2 "$misspelled" \
  -- "$tern" route --config route-misspelled.toml --from a@x.org --to ann@example.org
expect "misspelled remote: check refuses" 2 "$misspelled" -- "$tern" config check route-misspelled.toml

expect "no domain is unroutable" 1 "nodomain: error: the address has no domain to look up MX records for" \
  -- "$tern" route --config route-lmtp.toml --to nodomain

expect "unknown --var" 64 "tern: unknown variable 'listen' (listener, remote_ip, local_ip, helo_domain, authenticated_as, priority, retry_num, last_error)
usage: tern config check FILE
       tern config reference
       tern config default
       tern route --config FILE --from ADDR --to ADDR [--to ADDR ...]
                  [--var NAME=VALUE ...] [--explain] [--json]
       tern queue list|show|retry|delete|hold|release ...  (tern queue --help)" \
  -- "$tern" route --config route-lmtp.toml --to a@b.org --var listen=x

finish "cli route"
