#include "protocol/route/regex.hpp"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <string>

#include <pcre2.h>

namespace tern::protocol::route {

struct CompiledRegex {
  pcre2_code* code = nullptr;
  explicit CompiledRegex(pcre2_code* c) : code(c) {}
  CompiledRegex(const CompiledRegex&) = delete;
  CompiledRegex& operator=(const CompiledRegex&) = delete;
  ~CompiledRegex() { pcre2_code_free(code); }
};

Result<std::shared_ptr<const CompiledRegex>> compile_regex(std::string_view pattern) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_NEVER_UTF | PCRE2_NEVER_UCP, &error_code, &error_offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR buffer[256];
    int n = pcre2_get_error_message(error_code, buffer, sizeof buffer);
    std::string message =
        n > 0 ? std::string(reinterpret_cast<const char*>(buffer), static_cast<std::size_t>(n))
              : std::string("unknown PCRE2 error");
    return fail(error_offset, message);
  }
  return std::shared_ptr<const CompiledRegex>(std::make_shared<CompiledRegex>(code));
}

RegexOutcome regex_search(const CompiledRegex& regex, std::string_view subject) {
  // Contexts and match data are per call: cheap, and a shared pattern stays read-only.
  pcre2_match_context* context = pcre2_match_context_create(nullptr);
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(regex.code, nullptr);
  RegexOutcome outcome;
  if (context != nullptr && data != nullptr) {
    pcre2_set_match_limit(context, RegexLimits::kMatchLimit);
    pcre2_set_depth_limit(context, RegexLimits::kDepthLimit);
    static constexpr char kEmpty[1] = {0};
    const char* bytes = subject.data() != nullptr ? subject.data() : kEmpty;
    int rc = pcre2_match(regex.code, reinterpret_cast<PCRE2_SPTR>(bytes), subject.size(), 0, 0,
                         data, context);
    outcome.matched = rc >= 0;
    outcome.limit_hit = rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
                        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_NOMEMORY;
  } else {
    outcome.limit_hit = true;
  }
  pcre2_match_data_free(data);
  pcre2_match_context_free(context);
  return outcome;
}

}  // namespace tern::protocol::route
