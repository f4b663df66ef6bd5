// runtime/spool/recovery.hpp — what the spool log holds after a crash, as a pure function of
// the bytes on disk (docs/spool.md): the segments of log/ read in ascending order, each up
// to its first invalid record (a torn tail), and replayed: a commit creates the message (a
// later commit of the same id is the same message copied forward), an envelope record
// replaces a live message's envelope, a remove ends it. A message whose body is the file
// body/<id> and has no such file is dropped: that body was made durable before its commit
// record was written, so the record outlived a failed commit that no 250 acknowledged.
//
// LogSpool::load acts on the result (and deletes the orphan bodies it names); the
// simulation reads the durable image of its disk through it, so its invariants see what a
// restart would see.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

namespace tern::runtime::spool {

// Where some bytes of a message are: a segment (by number) and a range in it.
struct Place {
  std::uint64_t segment = 0;
  std::uint64_t offset = 0;
  std::uint64_t bytes = 0;
};

struct RecoveredMessage {
  Place commit_place;  // the commit record (its header; bytes 0)
  std::string envelope;
  Place envelope_place;
  bool external_body = false;  // the body is body/<id>; body_place is then unused
  Place body_place;
};

struct RecoveryInput {
  std::map<std::uint64_t, std::string_view> segments;  // number -> the file's bytes
  std::set<std::string> bodies;                        // the names in body/
};

struct Recovery {
  std::map<std::string, RecoveredMessage> live;
  std::map<std::uint64_t, std::uint64_t> valid_bytes;  // per segment: end of its last record
  std::vector<std::string> orphan_bodies;              // in body/, owned by no live message
};

Recovery recover(const RecoveryInput& input);

// "0000000000000001.log" <-> 1: 16 lowercase hex digits; any other name is not a segment.
std::string segment_name(std::uint64_t number);
bool parse_segment_name(std::string_view name, std::uint64_t& number);

}  // namespace tern::runtime::spool
