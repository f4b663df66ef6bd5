#include "runtime/policy.hpp"

#include <cassert>

namespace tern::runtime {

namespace route = protocol::route;

directory::Directory* DirectoryAnswers::resolve(std::string_view name) const {
  std::string wanted(name);
  if (wanted.empty() || wanted == "*") {
    if (!settings_.default_directory) return nullptr;
    wanted = *settings_.default_directory;
  }
  const auto found = settings_.directories.find(wanted);
  return found == settings_.directories.end() ? nullptr : found->second.get();
}

std::optional<bool> DirectoryAnswers::find(const route::LookupKey& key) const {
  auto* dir = resolve(key.directory);
  if (dir == nullptr) return false;
  std::string_view domain = key.key;
  if (key.function == route::LookupFunction::is_local_address) {
    const auto at = domain.rfind('@');
    if (at == std::string_view::npos) return false;
    domain = domain.substr(at + 1);
  }
  return dir->is_local_domain(domain);
}

PolicyValue evaluate_policy(const EngineSettings& settings, std::string_view key,
                            const route::Variables& variables) {
  const auto rules = settings.session.find(std::string(key));
  assert(rules != settings.session.end() && "session keys come from the configuration");
  if (rules == settings.session.end()) return {std::nullopt, std::string(key) + ": not configured"};
  const DirectoryAnswers answers(settings);
  auto outcome = route::evaluate(rules->second, variables, answers);
  if (auto* matched = std::get_if<route::Matched>(&outcome)) return {matched->value, std::nullopt};
  if (std::holds_alternative<route::NoMatch>(outcome))
    return {std::nullopt, std::string(key) + ": no rule matched"};
  if (auto* fault = std::get_if<route::RulesFault>(&outcome)) {
    return {std::nullopt, std::string(key) + ": rule " + std::to_string(fault->rule_index + 1) +
                              ": " + fault->fault.message};
  }
  return {std::nullopt, std::string(key) + ": a lookup stayed unanswered"};
}

bool policy_bool(const EngineSettings& settings, std::string_view key,
                 const route::Variables& variables) {
  const auto result = evaluate_policy(settings, key, variables);
  const auto* value = result.value ? std::get_if<bool>(&*result.value) : nullptr;
  return value != nullptr && *value;
}

directory::Directory* policy_directory(const EngineSettings& settings, std::string_view key,
                                       const route::Variables& variables) {
  const auto result = evaluate_policy(settings, key, variables);
  const auto* name = result.value ? std::get_if<std::string>(&*result.value) : nullptr;
  return name != nullptr ? DirectoryAnswers(settings).resolve(*name) : nullptr;
}

std::int64_t policy_int(const EngineSettings& settings, std::string_view key,
                        const route::Variables& variables) {
  const auto result = evaluate_policy(settings, key, variables);
  const auto* value = result.value ? std::get_if<std::int64_t>(&*result.value) : nullptr;
  return value != nullptr ? *value : 0;
}

}  // namespace tern::runtime
