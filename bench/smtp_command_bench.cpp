// Command parsing throughput: parse_command over a realistic mix of command lines (what a
// busy MX sees per message: EHLO, MAIL with parameters, several RCPT, DATA, QUIT), against
// the least any server must do with the same bytes — find the line ends (memchr).
#include <cstring>
#include <string>
#include <vector>

#include <benchmark/benchmark.h>

#include "protocol/smtp/command.hpp"

namespace {

const std::vector<std::string>& lines() {
  static const std::vector<std::string> mix = {
      "EHLO mail-relay.example.net",
      "MAIL FROM:<newsletter-bounces+user=example.org@lists.example.com> SIZE=48213 BODY=8BITMIME",
      "RCPT TO:<alice@example.org>",
      "RCPT TO:<bob.smith@example.org> NOTIFY=FAILURE,DELAY ORCPT=rfc822;bob.smith@example.org",
      "RCPT TO:<\"quoted local\"@example.org>",
      "RCPT TO:<carol@[192.0.2.17]>",
      "DATA",
      "RSET",
      "NOOP",
      "QUIT",
  };
  return mix;
}

std::size_t total_bytes() {
  std::size_t n = 0;
  for (const auto& line : lines()) n += line.size() + 2;
  return n;
}

void BM_ParseCommand(benchmark::State& state) {
  tern::protocol::smtp::ParseOptions options;
  for (auto _ : state) {
    for (const auto& line : lines()) {
      auto command = tern::protocol::smtp::parse_command(std::string_view(line), options);
      benchmark::DoNotOptimize(command);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * total_bytes()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines().size()));
}
BENCHMARK(BM_ParseCommand);

void BM_Baseline_FindLineEnds(benchmark::State& state) {
  std::string wire;
  for (const auto& line : lines()) wire += line + "\r\n";
  for (auto _ : state) {
    const char* p = wire.data();
    const char* end = p + wire.size();
    while (const void* lf = std::memchr(p, '\n', static_cast<std::size_t>(end - p))) {
      p = static_cast<const char*>(lf) + 1;
      benchmark::DoNotOptimize(p);
    }
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * wire.size()));
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations() * lines().size()));
}
BENCHMARK(BM_Baseline_FindLineEnds);

}  // namespace

BENCHMARK_MAIN();
