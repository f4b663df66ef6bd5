// protocol/smtp/server_replies.hpp — internal to the server machine: every reply it sends
// on its own, in one place, so that the texts and codes (RFC 5321 §4.2, RFC 3463, RFC 2034)
// can be read and reviewed together.
#pragma once

#include <string>

#include "protocol/smtp/reply.hpp"

namespace tern::protocol::smtp::replies {

inline Reply make(std::uint16_t code, EnhancedStatus status, std::string text) {
  return Reply{code, status, {std::move(text)}};
}
inline Reply plain(std::uint16_t code, std::string text) {
  return Reply{code, std::nullopt, {std::move(text)}};
}

inline Reply ok() {
  return make(250, {2, 0, 0}, "OK");
}
inline Reply sender_ok() {
  return make(250, {2, 1, 0}, "Sender OK");
}
inline Reply recipient_ok() {
  return make(250, {2, 1, 5}, "Recipient OK");
}
inline Reply message_accepted() {
  return make(250, {2, 0, 0}, "Message accepted");
}
inline Reply reset_ok() {
  return make(250, {2, 0, 0}, "Reset OK");
}
inline Reply start_data() {
  return plain(354, "Start mail input; end with <CRLF>.<CRLF>");
}
inline Reply chunk_received(std::uint64_t n) {
  return make(250, {2, 0, 0}, std::to_string(n) + " octets received");
}
inline Reply closing(const std::string& host) {
  return make(221, {2, 0, 0}, host + " closing connection");
}
inline Reply help() {
  return make(214, {2, 0, 0},
              "Commands: EHLO HELO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP STARTTLS AUTH");
}
inline Reply cannot_verify() {
  return make(252, {2, 5, 0}, "Cannot VRFY user, but will accept message and attempt delivery");
}
inline Reply expn_disabled() {
  return make(502, {5, 5, 1}, "EXPN not available");
}
inline Reply ready_for_tls() {
  return make(220, {2, 0, 0}, "Ready to start TLS");
}
inline Reply tls_unavailable() {
  return make(502, {5, 5, 1}, "STARTTLS not available");
}
inline Reply tls_already_active() {
  return make(503, {5, 5, 1}, "TLS already active");
}
inline Reply auth_success() {
  return make(235, {2, 7, 0}, "Authentication successful");
}
inline Reply auth_cancelled() {
  return make(501, {5, 0, 0}, "Authentication cancelled");
}
inline Reply auth_bad_base64(const std::string& why) {
  return make(501, {5, 5, 2}, "Invalid authentication data: " + why);
}
inline Reply auth_line_too_long() {
  return make(500, {5, 5, 6}, "Authentication exchange line is too long");
}
inline Reply auth_unknown_mechanism() {
  return make(504, {5, 5, 4}, "Unrecognized authentication type");
}
inline Reply auth_not_offered() {
  return make(503, {5, 5, 1}, "AUTH not available");
}
inline Reply auth_needs_tls() {
  return make(538, {5, 7, 11}, "Encryption required for requested authentication mechanism");
}
inline Reply auth_already() {
  return make(503, {5, 5, 1}, "Already authenticated");
}
inline Reply auth_in_transaction() {
  return make(503, {5, 5, 1}, "AUTH not permitted during a mail transaction");
}
inline Reply auth_required() {
  return make(530, {5, 7, 0}, "Authentication required");
}
inline Reply too_many_auth_failures(const std::string& host) {
  return make(421, {4, 7, 0}, host + " Too many authentication failures, closing connection");
}
inline Reply hello_first() {
  return make(503, {5, 5, 1}, "Send EHLO first");
}
inline Reply lhlo_first() {
  return make(503, {5, 5, 1}, "Send LHLO first");
}
inline Reply nested_mail() {
  return make(503, {5, 5, 1}, "Nested MAIL command");
}
inline Reply mail_first(std::string_view verb) {
  return make(503, {5, 5, 1}, "Need MAIL before " + std::string(verb));
}
inline Reply rcpt_first() {
  return make(503, {5, 5, 1}, "Need RCPT before DATA");
}
inline Reply no_valid_recipients() {
  return make(554, {5, 5, 1}, "No valid recipients");
}
inline Reply too_many_recipients() {
  return make(452, {4, 5, 3}, "Too many recipients");
}
inline Reply message_too_big() {
  return make(552, {5, 3, 4}, "Message size exceeds fixed maximum message size");
}
inline Reply param_not_offered(const std::string& keyword) {
  return make(555, {5, 5, 4}, keyword + " parameter not supported");
}
// RFC 4865 §5: a release time beyond what FUTURERELEASE advertised is a bad parameter value.
inline Reply release_too_late(const std::string& keyword) {
  return make(501, {5, 5, 4}, keyword + " is beyond the longest hold this server offers");
}
inline Reply params_after_helo() {
  return make(555, {5, 5, 4}, "MAIL/RCPT parameters need EHLO");
}
inline Reply hello_needs_smtputf8() {
  return make(553, {5, 6, 7},
              "The EHLO name is not ASCII: MAIL needs SMTPUTF8, or EHLO with its A-label");
}
inline Reply too_many_rcpt_errors(const std::string& host) {
  return make(421, {4, 7, 0}, host + " Too many rejected recipients, closing connection");
}
inline Reply needs_smtputf8() {
  return make(553, {5, 6, 7}, "Non-ASCII address needs SMTPUTF8");
}
inline Reply requiretls_without_tls() {
  return make(530, {5, 7, 10}, "REQUIRETLS needs a TLS connection");
}
inline Reply binary_needs_bdat() {
  return make(503, {5, 5, 1}, "BODY=BINARYMIME requires BDAT");
}
inline Reply data_after_bdat() {
  return make(503, {5, 5, 1}, "DATA not allowed after BDAT");
}
inline Reply bdat_after_failure() {
  return make(503, {5, 5, 1}, "Previous BDAT failed; send RSET");
}
inline Reply transaction_in_progress() {
  return make(503, {5, 5, 1}, "Mail transaction in progress");
}
inline Reply command_line_too_long() {
  return make(500, {5, 5, 2}, "Line too long");
}
inline Reply bare_lf_in_command() {
  return make(500, {5, 5, 2}, "Bare LF in command line; lines end with CRLF");
}
inline Reply refused_sequence() {
  return make(503, {5, 5, 1}, "Connection refused; only QUIT is accepted");
}
inline Reply too_many_errors(const std::string& host) {
  return make(421, {4, 7, 0}, host + " Too many errors, closing connection");
}
inline Reply timeout(const std::string& host) {
  return make(421, {4, 4, 2}, host + " Timeout exceeded, closing connection");
}
inline Reply shutting_down(const std::string& host) {
  return make(421, {4, 3, 2}, host + " Service shutting down, closing connection");
}
inline Reply body_bare_lf() {
  return make(550, {5, 5, 2}, "Message refused: bare LF in the body (line ends must be CRLF)");
}
inline Reply body_bare_cr() {
  return make(550, {5, 5, 2}, "Message refused: bare CR in the body (line ends must be CRLF)");
}
inline Reply body_nul() {
  return make(550, {5, 6, 0}, "Message refused: a NUL octet in the body");
}
inline Reply body_line_too_long(std::size_t max) {
  return make(550, {5, 6, 0},
              "Message refused: a line is longer than " + std::to_string(max) + " octets");
}

}  // namespace tern::protocol::smtp::replies
