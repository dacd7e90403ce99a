#include "sim/derived_hash.h"

#include <map>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include <doctest/doctest.h>

#include "strategies/plan.h"

namespace {

using memsim::sim::derived_hash;

struct Inner {
  int64_t count = 0;
  std::optional<double> share;
  bool operator==(const Inner&) const = default;
};

struct Key {
  const int* owner = nullptr;
  int64_t size = 0;
  double rate = 0.0;
  std::vector<int64_t> per_stage;
  std::variant<std::monostate, int, Inner> policy;
  Inner inner;
  std::string label;
  memsim::sim::Bytes bytes;
  bool operator==(const Key&) const = default;
};

}  // namespace

TEST_CASE("a derived hash sees every field of a key, nested ones included") {
  const int a = 0;
  const int b = 0;
  const Key base{
      &a, 4, 0.5, {1, 2}, Inner{3, 0.25}, Inner{5, std::nullopt}, "x", memsim::sim::Bytes(7)};
  CHECK(memsim::sim::derived_hash_detail::field_count<Key>() == 8);
  CHECK(derived_hash(base) == derived_hash(Key(base)));
  std::vector<Key> changed(8, base);
  changed[0].owner = &b;
  changed[1].size = 5;
  changed[2].rate = 0.75;
  changed[3].per_stage.push_back(3);
  changed[4].policy = Inner{3, 0.5};
  changed[5].inner.share = 0.0;
  changed[6].bytes = memsim::sim::Bytes(8);
  changed[7].policy = 3;
  for (const Key& key : changed) {
    CHECK_FALSE(key == base);
    CHECK(derived_hash(key) != derived_hash(base));
  }
}

TEST_CASE("equal keys hash alike: -0 and +0, and text, which only == tells apart") {
  Key zero;
  Key negative;
  negative.rate = -0.0;
  CHECK(zero == negative);
  CHECK(derived_hash(zero) == derived_hash(negative));
  Key named = zero;
  named.label.assign(1, 'y');  // not = "y": GCC 12 warns falsely (-Wrestrict) on it
  CHECK_FALSE(named == zero);
  CHECK(derived_hash(named) != derived_hash(zero));  // the length differs
}

TEST_CASE("every field of a plan's parts reaches the hash") {
  const memsim::strategies::Plan plan;
  auto differs = [&](auto change) {
    memsim::strategies::Plan other = plan;
    change(other);
    return derived_hash(other.parallel) != derived_hash(plan.parallel) ||
           derived_hash(other.cluster) != derived_hash(plan.cluster) ||
           derived_hash(other.training) != derived_hash(plan.training) ||
           derived_hash(other.precision) != derived_hash(plan.precision) ||
           derived_hash(other.training.chunk_passes.checkpointing) !=
               derived_hash(plan.training.chunk_passes.checkpointing);
  };
  using memsim::strategies::Plan;
  CHECK(differs([](Plan& p) { p.parallel.dp.prefetch_layers = 2; }));
  CHECK(differs([](Plan& p) { p.parallel.dp.overlap_communication = false; }));
  CHECK(differs([](Plan& p) { p.parallel.pp.layers_per_stage = {1, 2}; }));
  CHECK(differs([](Plan& p) { p.parallel.tp.vocab_multiple = 64; }));
  CHECK(differs([](Plan& p) { p.cluster.gpu.edit().host_link_bytes_per_s = 1.0; }));
  CHECK(differs([](Plan& p) { p.cluster.cpu_memory_override = memsim::sim::Bytes(1); }));
  CHECK(differs([](Plan& p) { p.training.optimizer.values["beta1"] = 0.8; }));
  CHECK(differs([](Plan& p) { p.precision.gradients = memsim::strategies::Dtype::kFp32; }));
  CHECK(differs([](Plan& p) {
    p.training.chunk_passes.checkpointing = memsim::strategies::FullCheckpointing{2};
  }));
}
