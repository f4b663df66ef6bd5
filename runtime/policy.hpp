// runtime/policy.hpp — evaluating the session.* rules of the configuration for one
// connection, with directory answers for is_local_domain / is_local_address.
//
// Contract:
// - Variables are bound per stage by the caller (ConnectionVariables gives the connection
//   ones). Every session.* key is in the settings (config/route_model.cpp compiles each one,
//   its default rules after any configured list that may end without a match), so the
//   engine keeps no defaults of its own: evaluate() returns the rule list's value, or none
//   when the key is missing (a settings object not built from a configuration: asserted in
//   builds without NDEBUG) or evaluation faults (the fault is returned in `fault` for the
//   log: a configuration that type-checked at load cannot fault on bound variables, so a
//   fault is a bug, never a reason to accept). Without a value, policy_bool is false,
//   policy_int 0 and policy_directory nullptr: nothing is offered or accepted.
// - Lookups are answered synchronously: is_local_domain by the named directory (or the
//   default one for '' and '*'); is_local_address by the domain of the address (the
//   session's RCPT stage asks the directory itself for exact answers). An unknown
//   directory name answers false.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "protocol/route/eval.hpp"
#include "runtime/settings.hpp"

namespace tern::runtime {

class DirectoryAnswers final : public protocol::route::Lookups {
 public:
  explicit DirectoryAnswers(const EngineSettings& settings) : settings_(settings) {}
  std::optional<bool> find(const protocol::route::LookupKey& key) const override;
  directory::Directory* resolve(std::string_view name) const;  // '' and '*': the default

 private:
  const EngineSettings& settings_;
};

struct PolicyValue {
  std::optional<protocol::route::Value> value;
  std::optional<std::string> fault;
};

PolicyValue evaluate_policy(const EngineSettings& settings, std::string_view key,
                            const protocol::route::Variables& variables);

bool policy_bool(const EngineSettings& settings, std::string_view key,
                 const protocol::route::Variables& variables);
// The directory a session.*.directory rule names ('' and '*': the default one), or nullptr
// when the rule says false or names no directory.
directory::Directory* policy_directory(const EngineSettings& settings, std::string_view key,
                                       const protocol::route::Variables& variables);

std::int64_t policy_int(const EngineSettings& settings, std::string_view key,
                        const protocol::route::Variables& variables);

}  // namespace tern::runtime
