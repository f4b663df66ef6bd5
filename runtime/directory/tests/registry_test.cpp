// The directory registry (registry.hpp): the built-in kinds, an unknown kind, a new kind
// registered without touching config/.
#include "runtime/directory/registry.hpp"

#include <gtest/gtest.h>

#include "adapters/sim/sim_io.hpp"

namespace tern::runtime::directory {
namespace {

TEST(DirectoryRegistry, BuildsTheBuiltinKindsAndRefusesAnUnknownOne) {
  adapters::sim::SimIo io(1);
  const auto& registry = DirectoryRegistry::builtin();
  for (const char* kind : {"memory", "imap", "smtp", "lmtp"}) EXPECT_TRUE(registry.knows(kind));
  DirectorySpec spec;
  spec.name = "main";
  spec.kind = "memory";
  spec.memory.principals.push_back(PrincipalInput{"ann", std::nullopt, {"ann@example.org"}});
  std::shared_ptr<Directory> out;
  EXPECT_EQ(registry.build(spec, io, out), "");
  ASSERT_NE(out, nullptr);
  EXPECT_TRUE(out->is_local_domain("example.org"));
  spec.kind = "ldap";
  out.reset();
  EXPECT_EQ(registry.build(spec, io, out), "directory 'main': no directory kind 'ldap'");
  EXPECT_EQ(out, nullptr);
  spec.kind = "memory";
  spec.memory.principals.push_back(PrincipalInput{"ann", std::nullopt, {"ann2@example.org"}});
  EXPECT_NE(registry.build(spec, io, out), "") << "a duplicate principal is refused";
}

TEST(DirectoryRegistry, ANewKindIsOneFactory) {
  adapters::sim::SimIo io(1);
  DirectoryRegistry registry = DirectoryRegistry::builtin();
  registry.add("test", [](const DirectorySpec& spec, Io& io, std::shared_ptr<Directory>& out) {
    DirectorySpec as_memory = spec;
    as_memory.kind = "memory";
    return DirectoryRegistry::builtin().build(as_memory, io, out);
  });
  DirectorySpec spec;
  spec.name = "t";
  spec.kind = "test";
  std::shared_ptr<Directory> out;
  EXPECT_EQ(registry.build(spec, io, out), "");
  EXPECT_NE(out, nullptr);
  EXPECT_FALSE(DirectoryRegistry::builtin().knows("test"));
}

}  // namespace
}  // namespace tern::runtime::directory
