#include "adapters/sim/sim_io.hpp"

namespace tern::adapters::sim {
namespace {

std::uint64_t rotl(std::uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

std::uint64_t splitmix64(std::uint64_t& x) {
  std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// FNV-1a, 64 bits: std::hash differs between standard libraries, a seed must not.
std::uint64_t fnv1a64(std::string_view text) {
  std::uint64_t h = 0xcbf29ce484222325ULL;
  for (const char c : text) {
    h ^= static_cast<unsigned char>(c);
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace

Prng::Prng(std::uint64_t seed) {
  for (auto& word : state_) word = splitmix64(seed);
}

// xoshiro256** (Blackman and Vigna, 2018).
std::uint64_t Prng::next() {
  const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
  const std::uint64_t t = state_[1] << 17;
  state_[2] ^= state_[0];
  state_[3] ^= state_[1];
  state_[1] ^= state_[2];
  state_[0] ^= state_[3];
  state_[2] ^= t;
  state_[3] = rotl(state_[3], 45);
  return result;
}

std::uint64_t Prng::below(std::uint64_t bound) {
  if (bound == 0) return 0;  // misuse; a defined answer keeps a simulation replayable
  // Reject the low values that would make `% bound` favour small results.
  const std::uint64_t threshold = (0 - bound) % bound;
  for (;;) {
    const std::uint64_t r = next();
    if (r >= threshold) return r % bound;
  }
}

Prng Prng::child(std::string_view stream_name) {
  const std::uint64_t mixed =
      state_[0] ^ rotl(state_[1], 16) ^ rotl(state_[2], 32) ^ rotl(state_[3], 48);
  return Prng(mixed ^ fnv1a64(stream_name));
}

}  // namespace tern::adapters::sim
