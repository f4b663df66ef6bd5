// runtime/directory/memory_adapter.hpp — the memory directory behind the asynchronous
// Directory interface.
//
// Contract: MemoryDirectoryAsync answers each request from the wrapped MemoryDirectory at
// once and hands the answer over through io.post (never inside the call), exactly once,
// unless the adapter is destroyed first (then never). The answers are MemoryDirectory's
// (see memory_directory.hpp); is_local_domain is synchronous. The Io must outlive the
// adapter.
#pragma once

#include <functional>
#include <memory>
#include <string_view>

#include "runtime/directory/directory.hpp"
#include "runtime/directory/memory_directory.hpp"
#include "runtime/io.hpp"

namespace tern::runtime::directory {

class MemoryDirectoryAsync final : public Directory {
 public:
  MemoryDirectoryAsync(MemoryDirectory directory, Io& io);

  void authenticate(std::string_view user, std::string_view password,
                    std::function<void(AuthOutcome)> on_done) override;
  void check_recipient(std::string_view address,
                       std::function<void(RecipientOutcome)> on_done) override;
  void may_send_as(std::string_view principal, std::string_view address,
                   std::function<void(SenderOutcome)> on_done) override;
  bool is_local_domain(std::string_view domain) const override;

  const MemoryDirectory& directory() const { return directory_; }

 private:
  template <class Outcome>
  void post(std::function<void(Outcome)> on_done, Outcome outcome);

  MemoryDirectory directory_;
  Io& io_;
  std::shared_ptr<int> alive_ = std::make_shared<int>(0);  // posted answers check it
};

}  // namespace tern::runtime::directory
