#pragma once
/// What the simulator emits: one allocation or free on one rank, with the category it
/// is reported under, the phase of the step it happens in, and where in the model.

#include <array>
#include <cstdint>
#include <string_view>

#include "sim/units.h"

namespace memsim::sim {

/// The report's memory categories (SPEC.md): what a byte is for.
enum class Category : uint8_t {
  kWeights,        ///< parameters in compute precision (ZeRO-3 gathered copies included)
  kMasterWeights,  ///< fp32 copy for mixed precision
  kGradients,      ///< parameter gradients
  kOptimizer,      ///< optimizer states
  kActivations,    ///< tensors saved for backward
  kKvCache,        ///< attention key/value cache (inference)
  kTemporary,      ///< transient working memory: outputs in flight, workspaces, buffers
  kOverhead,       ///< CUDA context, framework, allocator reserve
};
inline constexpr int kCategoryCount = 8;
inline constexpr std::array<Category, kCategoryCount> kAllCategories{
    Category::kWeights,     Category::kMasterWeights, Category::kGradients, Category::kOptimizer,
    Category::kActivations, Category::kKvCache,       Category::kTemporary, Category::kOverhead};

/// The name used in JSON, CSV and tables.
std::string_view category_name(Category category);

enum class Phase : uint8_t { kForward, kBackward, kRecompute, kOptimizer, kCommunication, kIdle };
std::string_view phase_name(Phase phase);

/// Marks an event that belongs to no microbatch or no layer.
inline constexpr int32_t kNoIndex = -2;

struct MemoryEvent {
  double t_s = 0.0;
  Bytes delta;
  Category category = Category::kTemporary;
  Phase phase = Phase::kIdle;
  int32_t microbatch = kNoIndex;
  int32_t layer = kNoIndex;
};

/// Bytes per category.
class CategoryBytes {
 public:
  Bytes& operator[](Category c) { return bytes_[static_cast<size_t>(c)]; }
  Bytes operator[](Category c) const { return bytes_[static_cast<size_t>(c)]; }
  Bytes total() const;
  bool operator==(const CategoryBytes&) const = default;

 private:
  std::array<Bytes, kCategoryCount> bytes_{};
};

}  // namespace memsim::sim
