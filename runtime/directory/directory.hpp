// runtime/directory/directory.hpp — what the engine asks of any directory, asynchronously:
// memory directories answer at once; imap, smtp and lmtp directories ask a remote server
// through the Io.
//
// Contract:
// - Every answer arrives through the callback, on the engine's thread, never from inside
//   the call (a directory that knows at once posts the callback through the Io), exactly
//   once, unless the directory is destroyed first (then never).
// - A directory that cannot answer (remote down, timeout, protocol error) answers
//   `unavailable`, which the engine turns into a 4xx; never a 5xx.
// - is_local_domain is synchronous: memory directories know their domains; remote ones
//   answer from their lookup.domains list.
// - may_send_as(principal, address): whether an authenticated principal may use `address`
//   as its reverse-path. Remote directories know no addresses beyond the login itself: an
//   address equal to the login (case-insensitive) is allowed, anything else not_owned.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "runtime/directory/outcome.hpp"

namespace tern::runtime::directory {

class Directory {
 public:
  virtual ~Directory() = default;
  virtual void authenticate(std::string_view user, std::string_view password,
                            std::function<void(AuthOutcome)> on_done) = 0;
  virtual void check_recipient(std::string_view address,
                               std::function<void(RecipientOutcome)> on_done) = 0;
  virtual void may_send_as(std::string_view principal, std::string_view address,
                           std::function<void(SenderOutcome)> on_done) = 0;
  virtual bool is_local_domain(std::string_view domain) const = 0;
};

}  // namespace tern::runtime::directory
