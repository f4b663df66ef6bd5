// config/keys/keys.hpp — one registration function per component of Tern.
//
// Contract: each function adds the keys its component reads to the Schema, and nothing
// else. tern_schema() (config/keys/all.cpp) calls them all, once. A component that grows a
// setting adds it here first, and docs/configuration.md follows (`make docs`; a test fails
// if the file is stale).
#pragma once

#include "config/schema.hpp"

namespace tern::config::keys {

void register_server(Schema& schema);           // server.hostname, server.listener.<id>.*
void register_certificates(Schema& schema);     // certificate.<id>.*
void register_storage(Schema& schema);          // storage.*
void register_remotes(Schema& schema);          // remote.<id>.*
void register_queue(Schema& schema);            // queue.outbound.*
void register_outbound(Schema& schema);         // queue.outbound.limits/timeouts, resolver.*
void register_schedule(Schema& schema);         // queue.schedule.*
void register_directories(Schema& schema);      // directory.<name>.*
void register_relay_shorthand(Schema& schema);  // smtp-relay-* (seed 000)
void register_session(Schema& schema);          // session.<stage>.* expressions (keys/session.cpp)
void register_delivery_extras(Schema& schema);  // remote.<id>.tls.starttls, directory principals

}  // namespace tern::config::keys
