// DATA path throughput: DataDecoder (strict: bare CR/LF checks, dot-unstuffing, line and
// size limits, copy into the body buffer) against two baselines measured in the same run:
// a bare memmem scan for CRLF.CRLF (the least any DATA reader must do) and memcpy.
// Input: 8 MiB of 76-octet lines, one in 50 starting with a stuffed dot, fed in 64 KiB reads.
#include <cstring>
#include <string>

#include <benchmark/benchmark.h>

#include "protocol/smtp/data_codec.hpp"

namespace {

constexpr std::size_t kReadBytes = 64 * 1024;

const std::string& wire() {
  static const std::string text = [] {
    std::string out;
    const std::string line =
        "The quick brown fox jumps over the lazy dog; the dog sleeps on, 0123456789";
    for (std::size_t i = 0; out.size() < (8u << 20); ++i) {
      if (i % 50 == 0) out += "..";
      out += line;
      out += "\r\n";
    }
    out += ".\r\n";
    return out;
  }();
  return text;
}

void BM_DataDecoder(benchmark::State& state) {
  const std::string& in = wire();
  std::string body;
  body.reserve(in.size());
  for (auto _ : state) {
    tern::protocol::smtp::DataDecoder decoder;
    body.clear();
    for (std::size_t at = 0; at < in.size();) {
      at += decoder.decode(std::string_view(in).substr(at, kReadBytes), body).consumed;
    }
    if (!decoder.finished()) state.SkipWithError("did not finish");
    benchmark::DoNotOptimize(body.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_DataDecoder);

void BM_Baseline_MemmemScan(benchmark::State& state) {
  const std::string& in = wire();
  for (auto _ : state) {
    const void* end = memmem(in.data(), in.size(), "\r\n.\r\n", 5);
    benchmark::DoNotOptimize(end);
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Baseline_MemmemScan);

void BM_Baseline_Memcpy(benchmark::State& state) {
  const std::string& in = wire();
  std::string body(in.size(), '\0');
  for (auto _ : state) {
    std::memcpy(body.data(), in.data(), in.size());
    benchmark::DoNotOptimize(body.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * in.size()));
}
BENCHMARK(BM_Baseline_Memcpy);

void BM_DataEncoder(benchmark::State& state) {
  std::string body;
  {
    tern::protocol::smtp::DataDecoder decoder;
    decoder.decode(wire(), body);
  }
  std::string out;
  out.reserve(body.size() + body.size() / 32);
  for (auto _ : state) {
    tern::protocol::smtp::DataEncoder encoder;
    out.clear();
    for (std::size_t at = 0; at < body.size(); at += kReadBytes) {
      encoder.encode(std::string_view(body).substr(at, kReadBytes), out);
    }
    encoder.finish(out);
    benchmark::DoNotOptimize(out.data());
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations() * body.size()));
}
BENCHMARK(BM_DataEncoder);

}  // namespace

BENCHMARK_MAIN();
