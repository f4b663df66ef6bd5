#include "config/keys/keys.hpp"

namespace tern::config::keys {

void register_remotes(Schema& s) {
  s.add({.pattern = "remote.<id>.address",
         .type = ValueType::string,
         .description = "Host name or IP address of the remote SMTP or LMTP server",
         .required = true});
  s.add({.pattern = "remote.<id>.port",
         .type = ValueType::port,
         .default_value = "25",
         .description = "TCP port of the remote server"});
  s.add({.pattern = "remote.<id>.protocol",
         .type = ValueType::choice,
         .default_value = "\"smtp\"",
         .description = "Protocol spoken to the remote server",
         .choices = {"smtp", "lmtp"}});
  s.add({.pattern = "remote.<id>.tls.implicit",
         .type = ValueType::boolean,
         .default_value = "true",
         .description = "TLS from the first byte; false means STARTTLS on a clear connection"});
  s.add({.pattern = "remote.<id>.tls.allow-invalid-certs",
         .type = ValueType::boolean,
         .default_value = "false",
         .description = "Accept self-signed and otherwise invalid certificates"});
  s.add({.pattern = "remote.<id>.auth.username",
         .type = ValueType::string,
         .description = "User name for AUTH to the remote server"});
  s.add({.pattern = "remote.<id>.timeout",
         .type = ValueType::duration,
         .description = "Time each step of a delivery to this host may take (connect, each reply, "
                        "each write); unset: RFC 5321's per-command timeouts (5m, DATA 2m/10m)"});
  s.add({.pattern = "remote.<id>.auth.secret",
         .type = ValueType::string,
         .description = "Password for AUTH, usually \"%{env:NAME}%\"",
         .secret = true});
}

void register_queue(Schema& s) {
  s.add({.pattern = "queue.outbound.next-hop",
         .type = ValueType::expression,
         .default_value = "[{ if = \"is_local_domain('*', rcpt_domain)\", then = \"'local'\" }, "
                          "{ else = false }]",
         .description = "Route of each recipient: a remote id, 'local', or false for DNS MX; by "
                        "default local domains go to the local store and the others to MX"});
  const std::vector<std::string> policy = {"optional", "require", "disable"};
  s.add({.pattern = "queue.outbound.tls.mta-sts",
         .type = ValueType::choice,
         .default_value = "\"optional\"",
         .description = "MTA-STS policy for MX delivery (disable it when relaying)",
         .choices = policy});
  s.add({.pattern = "queue.outbound.tls.dane",
         .type = ValueType::choice,
         .default_value = "\"optional\"",
         .description = "DANE policy for MX delivery (disable it when relaying)",
         .choices = policy});
  s.add({.pattern = "queue.outbound.tls.starttls",
         .type = ValueType::choice,
         .default_value = "\"optional\"",
         .description = "STARTTLS for MX delivery: opportunistic, required or never",
         .choices = policy});
}

void register_outbound(Schema& s) {
  s.add({.pattern = "queue.outbound.tls.allow-invalid-certs",
         .type = ValueType::boolean,
         .default_value = "false",
         .description = "With tls.starttls = \"require\": accept MX certificates that do not "
                        "verify (opportunistic STARTTLS never verifies)"});
  s.add({.pattern = "queue.outbound.limits.mx",
         .type = ValueType::integer,
         .default_value = "7",
         .description = "MX hosts tried per delivery attempt, best preference first",
         .min = 1,
         .max = 100});
  s.add({.pattern = "queue.outbound.limits.multihomed",
         .type = ValueType::integer,
         .default_value = "2",
         .description = "Addresses tried per MX host (IPv4 first, then IPv6)",
         .min = 1,
         .max = 16});
  s.add({.pattern = "queue.outbound.limits.concurrency",
         .type = ValueType::integer,
         .default_value = "20",
         .description = "Deliveries at once to one destination (one remote.<id>, or one MX "
                        "domain); further messages wait their turn",
         .min = 1,
         .max = 10000});
  s.add({.pattern = "queue.limits.messages",
         .type = ValueType::integer,
         .default_value = "16",
         .description = "Messages worked on at once (local and remote deliveries in "
                        "progress; each holds its body in memory while it is delivered); "
                        "further messages wait their turn",
         .min = 1,
         .max = 10000});
  s.add({.pattern = "queue.outbound.timeouts.connect",
         .type = ValueType::duration,
         .default_value = "\"5m\"",
         .description = "Time a TCP connection to a remote host may take"});
  s.add({.pattern = "queue.outbound.timeouts.greeting",
         .type = ValueType::duration,
         .default_value = "\"5m\"",
         .description = "Time the remote greeting may take (RFC 5321 4.5.3.2.1)"});
  s.add({.pattern = "queue.outbound.timeouts.command",
         .type = ValueType::duration,
         .default_value = "\"5m\"",
         .description = "Time each reply to EHLO, STARTTLS, AUTH, MAIL and RCPT may take"});
  s.add({.pattern = "queue.outbound.timeouts.data",
         .type = ValueType::duration,
         .default_value = "\"10m\"",
         .description = "Time the reply after the end of the message may take (RFC 5321 "
                        "4.5.3.2.6)"});
  s.add({.pattern = "resolver.type",
         .type = ValueType::choice,
         .default_value = "\"system\"",
         .description = "DNS: system (/etc/resolv.conf and /etc/hosts), custom (resolver.custom), "
                        "or recursive (libunbound from the root servers)",
         .choices = {"system", "custom", "recursive"}});
  s.add({.pattern = "resolver.custom",
         .type = ValueType::string_list,
         .default_value = "[]",
         .description = "Name servers for resolver.type = \"custom\": \"udp://IP:PORT\", "
                        "\"IP:PORT\" or \"IP\" (port 53)"});
  s.add({.pattern = "resolver.timeout",
         .type = ValueType::duration,
         .default_value = "\"5s\"",
         .description = "Time one DNS question may take; past it the delivery fails temporarily"});
  s.add({.pattern = "resolver.trust-anchor",
         .type = ValueType::string,
         .description = "File with the DNSSEC root trust anchor (e.g. /usr/share/dns/root.key); "
                        "unset: answers are not validated"});
}

void register_schedule(Schema& s) {
  s.add({.pattern = "queue.schedule.retry",
         .type = ValueType::string_list,
         .default_value = "[\"2m\", \"5m\", \"10m\", \"15m\", \"30m\", \"1h\", \"2h\"]",
         .description = "Waits between delivery attempts of a recipient; the last one repeats"});
  s.add({.pattern = "queue.schedule.notify",
         .type = ValueType::string_list,
         .default_value = "[\"1d\", \"3d\"]",
         .description = "Ages of a message at which a delay notice (DSN) goes to its sender"});
  s.add({.pattern = "queue.schedule.expire",
         .type = ValueType::duration,
         .default_value = "\"5d\"",
         .description = "Age at which an undelivered recipient fails permanently (with a DSN)"});
}

void register_directories(Schema& s) {
  s.add({.pattern = "directory.<name>.type",
         .type = ValueType::choice,
         .description = "Kind of directory",
         .required = true,
         .choices = {"memory", "imap", "smtp", "lmtp"}});
  s.add({.pattern = "directory.<name>.address",
         .type = ValueType::string,
         .description = "Host name or IP address of an imap, smtp or lmtp directory"});
  s.add({.pattern = "directory.<name>.port",
         .type = ValueType::port,
         .description = "Port of an imap, smtp or lmtp directory"});
  s.add({.pattern = "directory.<name>.tls.implicit",
         .type = ValueType::boolean,
         .default_value = "true",
         .description = "TLS from the first byte; false means STARTTLS (see tls.starttls)"});
  s.add({.pattern = "directory.<name>.tls.starttls",
         .type = ValueType::boolean,
         .default_value = "true",
         .description = "When tls.implicit is false: require STARTTLS (true) or talk in clear text "
                        "(false; credentials then cross the network unprotected)"});
  s.add({.pattern = "directory.<name>.timeout",
         .type = ValueType::duration,
         .default_value = "\"15s\"",
         .description = "Time a remote directory has to answer one question (connect, TLS and the "
                        "exchange); past it the answer is 'unavailable' (4xx)"});
  s.add({.pattern = "directory.<name>.pool.max-connections",
         .type = ValueType::integer,
         .default_value = "10",
         .description = "Connections a remote directory keeps open at once",
         .min = 1,
         .max = 10000});
  s.add({.pattern = "directory.<name>.cache.size",
         .type = ValueType::integer,
         .default_value = "1000",
         .description = "Answers a remote directory remembers (authentications by a hash of the "
                        "credentials, never the password)",
         .min = 0,
         .max = 10000000});
  s.add({.pattern = "directory.<name>.cache.ttl.positive",
         .type = ValueType::duration,
         .default_value = "\"1h\"",
         .description = "How long a successful answer is remembered"});
  s.add({.pattern = "directory.<name>.cache.ttl.negative",
         .type = ValueType::duration,
         .default_value = "\"10m\"",
         .description = "How long a negative answer is remembered"});
  s.add({.pattern = "directory.<name>.tls.allow-invalid-certs",
         .type = ValueType::boolean,
         .default_value = "false",
         .description = "Accept self-signed and otherwise invalid certificates"});
  s.add({.pattern = "directory.<name>.limits.rcpt",
         .type = ValueType::integer,
         .default_value = "10",
         .description = "Recipients checked on one connection before it is replaced",
         .min = 1,
         .max = 100000});
  s.add({.pattern = "directory.<name>.limits.auth-errors",
         .type = ValueType::integer,
         .default_value = "3",
         .description = "Failed logins of one user (within cache.ttl.negative) after which the "
                        "directory refuses that user without asking the server",
         .min = 1,
         .max = 1000});
  s.add({.pattern = "directory.<name>.lookup.domains",
         .type = ValueType::string_list,
         .default_value = "[]",
         .description = "Domains this directory holds (remote directories cannot say)"});
}

void register_relay_shorthand(Schema& s) {
  s.add({.pattern = "smtp-relay-host",
         .type = ValueType::string,
         .description = "Shorthand: relay every non-local recipient through this host"});
  s.add({.pattern = "smtp-relay-port",
         .type = ValueType::port,
         .default_value = "25",
         .description = "Shorthand: port of the relay host"});
  s.add({.pattern = "smtp-relay-tls",
         .type = ValueType::boolean,
         .default_value = "true",
         .description = "Shorthand: implicit TLS to the relay host"});
  s.add({.pattern = "smtp-relay-auth",
         .type = ValueType::string,
         .description = "Shorthand: user name for AUTH to the relay host"});
  s.add({.pattern = "smtp-relay-secret",
         .type = ValueType::string,
         .description = "Shorthand: password for AUTH to the relay host",
         .secret = true});
  s.add({.pattern = "smtp-relay-timeout",
         .type = ValueType::duration,
         .default_value = "60000",
         .description = "Shorthand: timeout of the relay connection (a bare number is "
                        "milliseconds)",
         .integer_unit_ms = true});
}

}  // namespace tern::config::keys
