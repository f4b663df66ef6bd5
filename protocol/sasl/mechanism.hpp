// protocol/sasl/mechanism.hpp — the SASL mechanisms tern implements and their names.
//
// Contract:
// - parse_mechanism(name): the mechanism whose registered name equals `name` ignoring ASCII
//   case (RFC 4422 §3.1 names are upper case, but peers send any case); std::nullopt for an
//   unknown or empty name.
// - mechanism_name(m): the registered, upper-case name.
// - supported_mechanisms() / supported_mechanism_names(): every mechanism (and its name), in
//   the same order; the caller filters by policy (e.g. PLAIN and LOGIN only under TLS).
#pragma once

#include <optional>
#include <span>
#include <string_view>

namespace tern::protocol::sasl {

enum class Mechanism { plain, login, cram_md5, xoauth2, oauthbearer };

std::optional<Mechanism> parse_mechanism(std::string_view name);
std::string_view mechanism_name(Mechanism m);
std::span<const Mechanism> supported_mechanisms();
std::span<const std::string_view> supported_mechanism_names();

}  // namespace tern::protocol::sasl
