// libFuzzer target sasl_xoauth2: the xoauth2 server machine (driver and invariants in
// sasl_server_fuzz.hpp).
#include "fuzz/sasl_server_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tern::protocol::sasl::fuzz::run_server(tern::protocol::sasl::Mechanism::xoauth2, data,
                                                size);
}
