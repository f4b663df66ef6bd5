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
