// protocol/core/result.hpp — the value-or-error return type of every parser in tern::protocol.
//
// Contract: a Result<T> holds either a T or an Error, never both, never neither. Parsers
// return it for faults of the *input* (a malformed command, an over-long path); misuse of a
// machine by its caller is reported with std::error_code instead (see docs/architecture.md).
// Error::offset is the byte offset in the parsed input where the fault was noticed, so a
// reply or a log line can point at it; Error::message is a short English phrase without a
// trailing period, suitable for the text of a 501 reply.
#pragma once

#include <cstddef>
#include <string>
#include <utility>

#include "protocol/core/expected.hpp"

namespace tern::protocol {

struct Error {
  std::size_t offset = 0;
  std::string message;

  friend bool operator==(const Error&, const Error&) = default;
};

template <class T>
class [[nodiscard]] Result : public Expected<T, Error> {
 public:
  Result(T value) : Expected<T, Error>(std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)                                        // NOLINT(google-explicit-constructor)
      : Expected<T, Error>(Unexpected<Error>{std::move(error)}) {}
};

// Shorthand for the failing branch: `return fail(pos, "expected '>'");`
inline Error fail(std::size_t offset, std::string message) {
  return Error{offset, std::move(message)};
}

}  // namespace tern::protocol
