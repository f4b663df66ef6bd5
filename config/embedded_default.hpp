// config/embedded_default.hpp — the configuration ternd runs on when given none.
//
// Contract: the text of config/default.toml as it was at build time. It always loads
// without errors (a test checks it), so `make run` works on a fresh machine.
#pragma once

#include <string_view>

namespace tern::config {

std::string_view embedded_default_toml();

}  // namespace tern::config
