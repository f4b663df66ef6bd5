// fuzz/runtime_engine_case.hpp — one run of the receiving engine on the simulated Io, as the
// runtime_engine fuzz target drives it; shared with its test (fuzz/tests), which proves on
// the seed corpus that the invariants hold for the real engine and catch broken ones.
//
// The input (libFuzzer's FuzzedDataProvider: bytes from the front are what the client
// sends, control bytes are taken from the back):
//   back: a 32-bit seed for SimIo, then a listener byte (% 3: smtp :25, submission :587,
//         lmtp :24), then one op byte per step until the input is used up:
//     0x00-0xEF  send the next op+1 bytes, then run 50 ms of virtual time
//     0xF0       the next fsync fails            0xF1  disk capacity = next byte * 64
//     0xF2       run next u16 * 10 ms            0xF3  the client starts TLS
//     0xF4       disk capacity unlimited again   0xF5  the client closes
//     0xF6-0xFF  send everything left, then run 50 ms
// A seed conversation is therefore its text followed by the reversed ops, the listener
// byte and four seed bytes (scripts/make-engine-corpus writes them).
//
// Settings are what ternd loads: kEngineToml through the config loader, route model and
// engine config, directories built by config::build_directory (example.org is local by
// the default routing; ann and bob have mailboxes).
//
// Invariants (a violation is returned as text naming the rule):
//   ack      every "queued as ID" is durable when the client receives it: in the spool,
//            or already taken out of it by the queue;
//   end      after the client leaves and 20 virtual minutes pass, every acknowledged
//            message is still in the spool or left it legitimately, judged by what the
//            world shows: each recipient has a Maildir copy (our Received id and its
//            Delivered-To in the header), or a DSN that reached the spool names the message
//            and the recipient, or no DSN was owed (the sender is <>, so a double bounce is
//            dropped, or NOTIFY leaves FAILURE out: RFC 3461 §6.1, RFC 3464); a recipient
//            whose durable state says delivered must have its copy. Such silent failures
//            leave no trace, so losing one is the one loss this rule cannot see;
//   sessions no session is left behind.
// TERN_ENGINE_TRACE=1 in the environment prints the conversation on stderr.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace tern::fuzz {

extern const std::string_view kEngineToml;

struct EngineCaseResult {
  std::string violation;         // "" when every invariant held
  std::size_t acknowledged = 0;  // messages the client saw queued
  std::size_t delivered = 0;     // recipients delivered to a Maildir
  std::size_t failed = 0;        // recipients failed permanently
  std::size_t dsns = 0;          // DSNs spooled
};

EngineCaseResult run_engine_case(const std::uint8_t* data, std::size_t size);

}  // namespace tern::fuzz
