// Shared values: copies share one value until one is edited; equality and hashes are the
// values'.

#include "sim/shared_value.h"

#include <string>

#include <doctest/doctest.h>

#include "sim/derived_hash.h"

namespace {

struct Profile {
  std::string name;
  int memory = 0;
  bool operator==(const Profile&) const = default;
};

}  // namespace

TEST_CASE("a shared value's copies are equal, and editing one leaves the others") {
  memsim::sim::SharedValue<Profile> a(Profile{"h100", 80});
  memsim::sim::SharedValue<Profile> b = a;
  CHECK(&*a == &*b);  // one value, not two
  CHECK(a == b);
  b.edit().memory = 40;
  CHECK(a->memory == 80);
  CHECK(b->memory == 40);
  CHECK(a != b);
  CHECK(memsim::sim::derived_hash(a) != memsim::sim::derived_hash(b));
}

TEST_CASE("shared values made apart compare and hash by their values") {
  const memsim::sim::SharedValue<Profile> a(Profile{"a100", 40});
  const memsim::sim::SharedValue<Profile> b(Profile{"a100", 40});
  CHECK(&*a != &*b);
  CHECK(a == b);
  CHECK(memsim::sim::derived_hash(a) == memsim::sim::derived_hash(b));
  CHECK(a != memsim::sim::SharedValue<Profile>(Profile{"a100-80gb", 40}));
}
