#include "protocol/sasl/mechanism.hpp"

#include <array>

#include "protocol/sasl/text.hpp"

namespace tern::protocol::sasl {
namespace {

constexpr std::array<Mechanism, 5> kAll = {Mechanism::plain, Mechanism::login, Mechanism::cram_md5,
                                           Mechanism::xoauth2, Mechanism::oauthbearer};
constexpr std::array<std::string_view, 5> kNames = {"PLAIN", "LOGIN", "CRAM-MD5", "XOAUTH2",
                                                    "OAUTHBEARER"};

}  // namespace

std::string_view mechanism_name(Mechanism m) {
  return kNames[static_cast<std::size_t>(m)];
}

std::optional<Mechanism> parse_mechanism(std::string_view name) {
  for (const Mechanism m : kAll) {
    if (iequals(name, mechanism_name(m))) return m;
  }
  return std::nullopt;
}

std::span<const Mechanism> supported_mechanisms() {
  return kAll;
}

std::span<const std::string_view> supported_mechanism_names() {
  return kNames;
}

}  // namespace tern::protocol::sasl
