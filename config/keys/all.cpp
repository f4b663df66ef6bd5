#include "config/keys/keys.hpp"

namespace tern::config {

const Schema& tern_schema() {
  static const Schema schema = [] {
    Schema s;
    keys::register_server(s);
    keys::register_certificates(s);
    keys::register_storage(s);
    keys::register_remotes(s);
    keys::register_queue(s);
    keys::register_outbound(s);
    keys::register_schedule(s);
    keys::register_directories(s);
    keys::register_relay_shorthand(s);
    keys::register_session(s);
    keys::register_delivery_extras(s);
    return s;
  }();
  return schema;
}

}  // namespace tern::config
