#include "strategies/quantization.h"

#include "sim/check.h"
#include "sim/units.h"

namespace memsim::strategies {

const std::vector<WeightFormatInfo>& weight_formats() {
  static const std::vector<WeightFormatInfo> formats = {
      {WeightFormat::kFp32, "fp32", "4 bytes per weight", 32, false},
      {WeightFormat::kBf16, "bf16", "2 bytes per weight", 16, false},
      {WeightFormat::kFp16, "fp16", "2 bytes per weight", 16, false},
      {WeightFormat::kFp8, "fp8", "1 byte per weight, one fp32 scale per matrix", 8, false},
      {WeightFormat::kInt8, "int8", "1 byte per weight, an fp16 scale and zero point per group", 8,
       true},
      {WeightFormat::kInt4, "int4",
       "half a byte per weight, an fp16 scale and zero point per group (GPTQ, AWQ)", 4, true},
  };
  return formats;
}

namespace {

/// The entry of a format table named `name`, or nullptr.
template <typename Info>
const Info* by_name(const std::vector<Info>& table, const std::string& name) {
  for (const Info& info : table) {
    if (name == info.name) return &info;
  }
  return nullptr;
}

/// The entry of a format table for `format` (tables are in enum order).
template <typename Info, typename Format>
const Info& by_format(const std::vector<Info>& table, Format format) {
  const Info& info = table[static_cast<size_t>(format)];
  MEMSIM_CHECK(info.format == format);
  return info;
}

}  // namespace

const WeightFormatInfo* find_weight_format(const std::string& name) {
  return by_name(weight_formats(), name);
}

const WeightFormatInfo& weight_format_info(WeightFormat format) {
  return by_format(weight_formats(), format);
}

int64_t matrix_bytes(WeightFormat format, int64_t rows, int64_t inputs, int64_t group) {
  const WeightFormatInfo& info = weight_format_info(format);
  const int64_t elements = sim::checked_mul(rows, inputs);
  // Packed: two int4 weights per byte, an odd count rounded up.
  const int64_t packed = (sim::checked_mul(elements, info.bits) + 7) / 8;
  if (format == WeightFormat::kFp8) return packed + 4;
  if (!info.grouped) return packed;
  const int64_t groups = sim::checked_mul(rows, (inputs + group - 1) / group);
  return packed + sim::checked_mul(groups, 2 + 2);
}

int64_t unquantised_bytes(WeightFormat format) {
  return format == WeightFormat::kFp32 ? 4 : 2;
}

const std::vector<KvFormatInfo>& kv_formats() {
  static const std::vector<KvFormatInfo> formats = {
      {KvFormat::kBf16, "bf16", 2},
      {KvFormat::kFp16, "fp16", 2},
      {KvFormat::kFp8, "fp8", 1},
      {KvFormat::kInt8, "int8", 1},
  };
  return formats;
}

const KvFormatInfo* find_kv_format(const std::string& name) {
  return by_name(kv_formats(), name);
}

const KvFormatInfo& kv_format_info(KvFormat format) {
  return by_format(kv_formats(), format);
}

}  // namespace memsim::strategies
