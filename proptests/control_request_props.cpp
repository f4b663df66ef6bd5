// Properties of the control socket's request line (cmd/common/control_request.hpp): every
// valid request formats to a line that parses back to it, also with the words spread out
// by extra spaces; any id outside [A-Za-z0-9]{1,64} is refused.
#include <string>

#include <gtest/gtest.h>
#include <rapidcheck/gtest.h>

#include "cmd/common/control_request.hpp"

namespace tern::cmd {
namespace {

using Kind = ControlRequest::Kind;

rc::Gen<std::string> gen_id() {
  const auto c = rc::gen::elementOf(std::string("abcxyzABCXYZ0189"));
  return rc::gen::mapcat(rc::gen::inRange<std::size_t>(1, 65),
                         [c](std::size_t n) { return rc::gen::container<std::string>(n, c); });
}

rc::Gen<ControlRequest> gen_request() {
  return rc::gen::mapcat(rc::gen::element(Kind::list, Kind::show, Kind::retry, Kind::retry_all,
                                          Kind::remove, Kind::hold, Kind::release),
                         [](Kind kind) {
                           return rc::gen::map(rc::gen::tuple(gen_id(), rc::gen::arbitrary<bool>()),
                                               [kind](const std::tuple<std::string, bool>& t) {
                                                 ControlRequest r;
                                                 r.kind = kind;
                                                 const bool takes_id =
                                                     kind != Kind::list && kind != Kind::retry_all;
                                                 if (takes_id) r.id = std::get<0>(t);
                                                 if (kind == Kind::list || kind == Kind::show)
                                                   r.json = std::get<1>(t);
                                                 if (kind == Kind::remove)
                                                   r.silent = std::get<1>(t);
                                                 return r;
                                               });
                         });
}

RC_GTEST_PROP(ControlRequestProps, FormatThenParseGivesTheRequest, ()) {
  const ControlRequest r = *gen_request();
  const std::string line = format_control_request(r);
  RC_ASSERT(!line.empty() && line.back() == '\n');
  const auto parsed = parse_control_request(std::string_view(line).substr(0, line.size() - 1));
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(parsed.value() == r);
}

RC_GTEST_PROP(ControlRequestProps, ExtraSpacesChangeNothing, ()) {
  const ControlRequest r = *gen_request();
  std::string line = format_control_request(r);
  line.pop_back();
  std::string spread = std::string(*rc::gen::inRange(0, 4), ' ');
  for (const char c : line) {
    spread += c;
    if (c == ' ') spread += std::string(*rc::gen::inRange(0, 4), ' ');
  }
  spread += std::string(*rc::gen::inRange(0, 4), ' ');
  const auto parsed = parse_control_request(spread);
  RC_ASSERT(parsed.has_value());
  RC_ASSERT(parsed.value() == r);
}

RC_GTEST_PROP(ControlRequestProps, BadIdsAreRefused, ()) {
  const std::string id = *rc::gen::arbitrary<std::string>();
  const bool valid = !id.empty() && id.size() <= 64 &&
                     id.find_first_not_of(
                         "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789") == std::string::npos;
  RC_PRE(!valid && id.find(' ') == std::string::npos && !id.empty());
  RC_ASSERT(!parse_control_request("hold " + id).has_value());
}

}  // namespace
}  // namespace tern::cmd
