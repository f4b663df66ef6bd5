// protocol/core/expected.hpp — a value-or-error type with a caller-chosen error type.
//
// Contract: Expected<T, E> holds either a T or an E, never both (C++20 has no
// std::expected). Parsers whose errors carry more than an offset and a message (a reply
// code, a fault kind) use it directly; Result<T> (result.hpp) is Expected<T, Error> for
// the rest. value() and error() on the wrong alternative are a broken invariant (assert).
#pragma once

#include <cassert>
#include <utility>
#include <variant>

namespace tern::protocol {

template <class E>
struct Unexpected {
  E error;
};

template <class E>
Unexpected<E> unexpected(E e) {
  return Unexpected<E>{std::move(e)};
}

template <class T, class E>
class [[nodiscard]] Expected {
 public:
  Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}  // NOLINT
  template <class... Args>
  explicit Expected(std::in_place_t, Args&&... args)
      : state_(std::in_place_index<0>, std::forward<Args>(args)...) {}
  Expected(Unexpected<E> u) : state_(std::in_place_index<1>, std::move(u.error)) {}  // NOLINT

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

  const E& error() const {
    assert(!has_value());
    return std::get<1>(state_);
  }

 private:
  std::variant<T, E> state_;
};

}  // namespace tern::protocol
