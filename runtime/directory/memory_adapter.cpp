#include "runtime/directory/memory_adapter.hpp"

#include <utility>

namespace tern::runtime::directory {

MemoryDirectoryAsync::MemoryDirectoryAsync(MemoryDirectory directory, Io& io)
    : directory_(std::move(directory)), io_(io) {}

template <class Outcome>
void MemoryDirectoryAsync::post(std::function<void(Outcome)> on_done, Outcome outcome) {
  io_.post([alive = std::weak_ptr<int>(alive_), on_done = std::move(on_done),
            outcome = std::move(outcome)] {
    if (!alive.expired()) on_done(outcome);
  });
}

void MemoryDirectoryAsync::authenticate(std::string_view user, std::string_view password,
                                        std::function<void(AuthOutcome)> on_done) {
  post(std::move(on_done), directory_.authenticate(user, password));
}

void MemoryDirectoryAsync::check_recipient(std::string_view address,
                                           std::function<void(RecipientOutcome)> on_done) {
  post(std::move(on_done), directory_.is_local_address(address));
}

void MemoryDirectoryAsync::may_send_as(std::string_view principal, std::string_view address,
                                       std::function<void(SenderOutcome)> on_done) {
  post(std::move(on_done), directory_.may_send_as(principal, address));
}

bool MemoryDirectoryAsync::is_local_domain(std::string_view domain) const {
  return directory_.is_local_domain(domain);
}

}  // namespace tern::runtime::directory
