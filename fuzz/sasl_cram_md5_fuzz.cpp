// libFuzzer target sasl_cram_md5: the cram_md5 server machine (driver and invariants in
// sasl_server_fuzz.hpp).
#include "fuzz/sasl_server_fuzz.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  return tern::protocol::sasl::fuzz::run_server(tern::protocol::sasl::Mechanism::cram_md5, data,
                                                size);
}
