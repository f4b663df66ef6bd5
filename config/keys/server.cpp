#include "config/keys/keys.hpp"

namespace tern::config::keys {

void register_server(Schema& s) {
  s.add({.pattern = "server.hostname",
         .type = ValueType::string,
         .description = "Name in the greeting, EHLO and Received headers; the machine's host "
                        "name when unset"});
  s.add({.pattern = "server.listener.<id>.bind",
         .type = ValueType::string_list,
         .description = "Addresses to listen on, as \"127.0.0.1:25\" or \"[::1]:25\"",
         .required = true});
  s.add({.pattern = "server.listener.<id>.protocol",
         .type = ValueType::choice,
         .default_value = "\"smtp\"",
         .description = "Protocol spoken on the listener (submission is smtp with "
                        "session.auth.require)",
         .choices = {"smtp", "lmtp"}});
  s.add({.pattern = "server.listener.<id>.tls.implicit",
         .type = ValueType::boolean,
         .default_value = "false",
         .description = "TLS from the first byte (port 465 style) instead of STARTTLS"});
  s.add({.pattern = "server.listener.<id>.tls.starttls",
         .type = ValueType::boolean,
         .default_value = "true",
         .description = "Offer STARTTLS on a listener without implicit TLS"});
  s.add({.pattern = "server.listener.<id>.tls.certificate",
         .type = ValueType::string,
         .description =
             "Certificate id (certificate.<id>) of this listener; server.tls.certificate "
             "when unset"});
  s.add({.pattern = "server.tls.certificate",
         .type = ValueType::string,
         .description = "Default certificate id; the only certificate when there is one, and a "
                        "self-signed one created on first start (in storage.spool) when there is "
                        "none"});
  s.add({.pattern = "server.max-connections",
         .type = ValueType::integer,
         .default_value = "8192",
         .description = "Connections served at once, all listeners together; more get 421",
         .min = 1,
         .max = 1'000'000});
  s.add({.pattern = "server.max-connections-per-ip",
         .type = ValueType::integer,
         .default_value = "64",
         .description = "Connections served at once from one remote IP address; more get 421",
         .min = 1,
         .max = 1'000'000});
  s.add({.pattern = "server.timeout.command",
         .type = ValueType::duration,
         .default_value = "\"5m\"",
         .description = "Idle time allowed while waiting for a command (RFC 5321 4.5.3.2.7)"});
  s.add({.pattern = "server.timeout.data",
         .type = ValueType::duration,
         .default_value = "\"3m\"",
         .description = "Time allowed between two blocks of message data (RFC 5321 4.5.3.2.5)"});
  s.add({.pattern = "server.timeout.data-total",
         .type = ValueType::duration,
         .default_value = "\"1h\"",
         .description = "Longest a message transfer (DATA, or the BDAT chunks of one "
                        "transaction) may take from start to end, however steadily bytes "
                        "arrive; 0 for no bound"});
  s.add({.pattern = "server.timeout.data-min-rate",
         .type = ValueType::integer,
         .default_value = "1024",
         .description = "Octets per second a message transfer must average once it has lasted "
                        "server.timeout.data (a client dripping bytes is closed with 421); 0 "
                        "for no minimum",
         .min = 0,
         .max = 1'000'000'000});
  s.add({.pattern = "server.max-connections-per-ip-share",
         .type = ValueType::integer,
         .default_value = "25",
         .description = "Percent of server.max-connections that one remote IP address may hold "
                        "(on top of server.max-connections-per-ip), so that slow clients from "
                        "one address never take every slot",
         .min = 1,
         .max = 100});
  s.add({.pattern = "server.timeout.shutdown",
         .type = ValueType::duration,
         .default_value = "\"30s\"",
         .description = "How long SIGTERM waits for sessions in flight before dropping them"});
}

void register_certificates(Schema& s) {
  s.add({.pattern = "certificate.<id>.cert",
         .type = ValueType::string,
         .description = "PEM certificate chain, usually \"%{file:/path/cert.pem}%\"",
         .required = true});
  s.add({.pattern = "certificate.<id>.private-key",
         .type = ValueType::string,
         .description = "PEM private key, usually \"%{file:/path/key.pem}%\"",
         .required = true,
         .secret = true});
}

void register_storage(Schema& s) {
  s.add({.pattern = "storage.spool",
         .type = ValueType::string,
         .default_value = "\"/var/lib/tern/spool\"",
         .description = "Folder of the durable message queue"});
  s.add({.pattern = "storage.maildir",
         .type = ValueType::string,
         .default_value = "\"/var/lib/tern/mail\"",
         .description = "Folder of the local Maildir store (one Maildir per account)"});
  s.add({.pattern = "storage.directory",
         .type = ValueType::string,
         .description = "Name of the default directory, the one expressions mean by '' or "
                        "'*'; the only directory when there is one"});
}

}  // namespace tern::config::keys
