// The session stage settings: expressions evaluated while a client talks to Tern, named and
// shaped as Stalwart's (`session.<stage>.<setting>`). config/route_model.cpp compiles each
// one with the variables of its stage; the table there lists the same keys.
#include "config/keys/keys.hpp"

namespace tern::config::keys {
namespace {

void add_expression(Schema& s, std::string pattern, std::string default_value,
                    std::string description) {
  s.add({.pattern = std::move(pattern),
         .type = ValueType::expression,
         .default_value = std::move(default_value),
         .description = std::move(description)});
}

void register_auth(Schema& s) {
  add_expression(s, "session.auth.require", "false",
                 "Whether AUTH is required before MAIL FROM (boolean expression)");
  add_expression(s, "session.auth.directory", "\"*\"",
                 "Directory that checks AUTH credentials: a directory name, '*' for the default "
                 "directory, or false for none");
  add_expression(s, "session.auth.mechanisms", "[\"PLAIN\", \"LOGIN\"]",
                 "SASL mechanisms offered in EHLO (list expression; false offers none)");
  add_expression(s, "session.auth.errors.total", "3",
                 "Failed AUTH attempts before the connection is closed (integer expression)");
  add_expression(s, "session.auth.must-match-sender", "true",
                 "Whether an authenticated client may only send as its own addresses (boolean "
                 "expression)");
  s.add({.pattern = "session.auth.errors.wait",
         .type = ValueType::duration,
         .default_value = "\"1s\"",
         .description = "Delay before every failed AUTH reply (the same for unknown users and "
                        "wrong passwords)"});
}

void register_ehlo(Schema& s) {
  add_expression(s, "session.ehlo.reject-non-fqdn", "false",
                 "Refuse an EHLO/HELO name that is neither a dotted domain nor an address "
                 "literal (boolean expression)");
}

void register_rcpt(Schema& s) {
  add_expression(s, "session.rcpt.relay",
                 "[{ if = \"authenticated_as != ''\", then = true }, "
                 "{ else = false }]",
                 "Whether a recipient in a non-local domain is accepted (boolean expression)");
  add_expression(s, "session.rcpt.directory", "\"*\"",
                 "Directory that validates local recipients: a directory name, '*' for the "
                 "default directory, or false for none");
  add_expression(s, "session.rcpt.max-recipients", "100",
                 "Recipients accepted in one transaction (integer expression)");
}

void register_extensions(Schema& s) {
  add_expression(s, "session.data.limits.size", "104857600",
                 "Largest message accepted, in bytes (integer expression)");
  add_expression(s, "session.extensions.pipelining", "true", "Offer PIPELINING (RFC 2920)");
  add_expression(s, "session.extensions.chunking", "true", "Offer CHUNKING/BDAT (RFC 3030)");
  add_expression(s, "session.extensions.requiretls", "true", "Offer REQUIRETLS (RFC 8689)");
  add_expression(s, "session.extensions.dsn",
                 "[{ if = \"authenticated_as != ''\", then = true }, { else = false }]",
                 "Offer DSN (RFC 3461)");
  add_expression(s, "session.extensions.vrfy", "false",
                 "Offer VRFY: a local mailbox is looked up in session.rcpt.directory (else 252)");
  add_expression(s, "session.extensions.expn", "false",
                 "Offer EXPN: as VRFY (directories have no lists: a mailbox expands to itself)");
  add_expression(s, "session.extensions.no-soliciting", "false", "Offer NO-SOLICITING (RFC 3865)");
}

}  // namespace

void register_session(Schema& s) {
  register_auth(s);
  register_ehlo(s);
  register_rcpt(s);
  register_extensions(s);
}

void register_delivery_extras(Schema& s) {
  s.add({.pattern = "remote.<id>.tls.starttls",
         .type = ValueType::boolean,
         .default_value = "true",
         .description = "When tls.implicit is false: upgrade with STARTTLS (true) or stay in "
                        "clear text (false)"});
  s.add({.pattern = "directory.<name>.principals",
         .type = ValueType::table_list,
         .default_value = "[]",
         .description = "Accounts of a memory directory: [{ name, secret, email }]",
         .fields = {
             {.pattern = "name",
              .type = ValueType::string,
              .description = "Login name",
              .required = true},
             {.pattern = "secret",
              .type = ValueType::string,
              .description = "Password, usually \"%{env:NAME}%\"",
              .secret = true},
             {.pattern = "email",
              .type = ValueType::string_list,
              .default_value = "[]",
              .description = "Addresses of the account: a string or a list"},
         }});
}

}  // namespace tern::config::keys
