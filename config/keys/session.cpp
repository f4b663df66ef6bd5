// The session stage settings: expressions evaluated while a client talks to Tern, named and
// shaped as Stalwart's (`session.<stage>.<setting>`). config/route_model.cpp compiles each
// one with the variables of its stage.
#include "config/keys/keys.hpp"
#include "config/keys/session_keys.hpp"

namespace tern::config {

// The one list of session keys: name, stage, result type, default and description. The
// schema (below), the route model (config/route_model.cpp) and through it the engine read
// them from here; the engine has no defaults of its own.
std::span<const SessionKeySpec> session_key_specs() {
  using S = SessionStage;
  using R = SessionResult;
  static constexpr SessionKeySpec kSpecs[] = {
      {"session.auth.require", S::auth, R::boolean, "false",
       "Whether AUTH is required before MAIL FROM (boolean expression)"},
      {"session.auth.directory", S::auth, R::string_or_false, "\"*\"",
       "Directory that checks AUTH credentials: a directory name, '*' for the default "
       "directory, or false for none"},
      {"session.auth.mechanisms", S::auth, R::list_or_false, "[\"PLAIN\", \"LOGIN\"]",
       "SASL mechanisms offered in EHLO (list expression; false offers none)"},
      {"session.auth.errors.total", S::auth, R::integer, "3",
       "Failed AUTH attempts before the connection is closed (integer expression)"},
      {"session.rcpt.errors.total", S::auth, R::integer, "10",
       "Recipients refused for good (5xx) in one connection before it is closed with 421 "
       "4.7.0; 0 for no limit (integer expression)"},
      {"session.auth.must-match-sender", S::auth, R::boolean, "true",
       "Whether an authenticated client may only send as its own addresses (boolean "
       "expression)"},
      {"session.ehlo.reject-non-fqdn", S::ehlo, R::boolean, "false",
       "Refuse an EHLO/HELO name that is neither a dotted domain nor an address literal "
       "(boolean expression)"},
      {"session.rcpt.relay", S::rcpt, R::boolean,
       "[{ if = \"authenticated_as != ''\", then = true }, { else = false }]",
       "Whether a recipient in a non-local domain is accepted (boolean expression)"},
      {"session.rcpt.directory", S::rcpt, R::string_or_false, "\"*\"",
       "Directory that validates local recipients: a directory name, '*' for the default "
       "directory, or false for none"},
      {"session.rcpt.max-recipients", S::rcpt, R::integer, "100",
       "Recipients accepted in one transaction (integer expression)"},
      {"session.data.limits.size", S::data, R::integer, "104857600",
       "Largest message accepted, in bytes (integer expression)"},
      {"session.extensions.pipelining", S::ehlo, R::boolean, "true", "Offer PIPELINING (RFC 2920)"},
      {"session.extensions.chunking", S::ehlo, R::boolean, "true",
       "Offer CHUNKING/BDAT (RFC 3030)"},
      {"session.extensions.requiretls", S::ehlo, R::boolean, "false",
       "Offer REQUIRETLS (RFC 8689): not supported yet (relaying does not enforce it), only "
       "false is accepted"},
      {"session.extensions.dsn", S::ehlo, R::boolean,
       "[{ if = \"authenticated_as != ''\", then = true }, { else = false }]",
       "Offer DSN (RFC 3461)"},
      {"session.extensions.vrfy", S::ehlo, R::boolean, "false",
       "Offer VRFY: a local mailbox is looked up in session.rcpt.directory (else 252)"},
      {"session.extensions.expn", S::ehlo, R::boolean, "false",
       "Offer EXPN: as VRFY (directories have no lists: a mailbox expands to itself)"},
      {"session.extensions.no-soliciting", S::ehlo, R::boolean, "false",
       "Offer NO-SOLICITING (RFC 3865): not supported yet, only false is accepted"},
  };
  return kSpecs;
}

namespace keys {

void register_session(Schema& s) {
  for (const auto& spec : session_key_specs()) {
    s.add({.pattern = std::string(spec.key),
           .type = ValueType::expression,
           .default_value = std::string(spec.default_value),
           .description = std::string(spec.description)});
  }
  s.add({.pattern = "session.auth.errors.wait",
         .type = ValueType::duration,
         .default_value = "\"1s\"",
         .description = "Every failed AUTH is answered this long after the credentials "
                        "arrived (the same for unknown users and wrong passwords)"});
  s.add({.pattern = "session.rcpt.errors.wait",
         .type = ValueType::duration,
         .default_value = "\"1s\"",
         .description = "Delay before every reply that refuses a recipient (unknown mailbox, "
                        "relay denied): slows recipient enumeration"});
  s.add({.pattern = "session.auth.lockout.ip",
         .type = ValueType::integer,
         .default_value = "20",
         .description = "Failed AUTH attempts from one IP address within "
                        "session.auth.lockout.window before every AUTH from it is refused "
                        "(454 4.7.0) without checking the password; 0 turns it off"});
  s.add({.pattern = "session.auth.lockout.account",
         .type = ValueType::integer,
         .default_value = "10",
         .description = "Failed AUTH attempts for one login name (from any address) within "
                        "session.auth.lockout.window before every AUTH as it is refused; 0 "
                        "turns it off"});
  s.add({.pattern = "session.auth.lockout.window",
         .type = ValueType::duration,
         .default_value = "\"15m\"",
         .description = "How long a failed AUTH counts towards a lockout (a locked address or "
                        "account is free again once its failures are this old)"});
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

}  // namespace keys
}  // namespace tern::config
