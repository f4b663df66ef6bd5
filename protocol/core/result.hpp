// protocol/core/result.hpp — the value-or-error return type of every parser in tern::protocol.
//
// Contract: a Result<T> holds either a T or an Error, never both, never neither. Parsers
// return it for faults of the *input* (a malformed command, an over-long path); misuse of a
// machine by its caller is reported with std::error_code instead (see docs/architecture.md).
// Error::offset is the byte offset in the parsed input where the fault was noticed, so a
// reply or a log line can point at it; Error::message is a short English phrase without a
// trailing period, suitable for the text of a 501 reply.
#pragma once

#include <cassert>
#include <cstddef>
#include <string>
#include <utility>
#include <variant>

namespace tern::protocol {

struct Error {
  std::size_t offset = 0;
  std::string message;

  friend bool operator==(const Error&, const Error&) = default;
};

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value)
      : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT(google-explicit-constructor)
  Result(Error error)
      : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

  bool has_value() const { return state_.index() == 0; }
  explicit operator bool() const { return has_value(); }

  T& value() & {
    assert(has_value());
    return std::get<0>(state_);
  }
  const T& value() const& {
    assert(has_value());
    return std::get<0>(state_);
  }
  T&& value() && {
    assert(has_value());
    return std::get<0>(std::move(state_));
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const Error& error() const {
    assert(!has_value());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, Error> state_;
};

// Shorthand for the failing branch: `return fail(pos, "expected '>'");`
inline Error fail(std::size_t offset, std::string message) {
  return Error{offset, std::move(message)};
}

}  // namespace tern::protocol
