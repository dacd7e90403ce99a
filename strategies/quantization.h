#pragma once
/// How inference stores weights and the KV cache: tables of formats, the one place their
/// bytes are counted. Integer weight formats keep, per group of input features of each
/// output row, one fp16 scale and one fp16 zero point (as GPTQ and AWQ checkpoints are
/// described); fp8 keeps one fp32 scale per matrix.

#include <cstdint>
#include <string>
#include <vector>

namespace memsim::strategies {

enum class WeightFormat { kFp32, kBf16, kFp16, kFp8, kInt8, kInt4 };

struct WeightFormatInfo {
  WeightFormat format;
  const char* name;
  const char* description;
  int64_t bits;  ///< per weight
  bool grouped;  ///< integer: a scale and a zero point per group
};

const std::vector<WeightFormatInfo>& weight_formats();
const WeightFormatInfo* find_weight_format(const std::string& name);
const WeightFormatInfo& weight_format_info(WeightFormat format);

/// Bytes of a weight matrix of `rows` output features by `inputs` input features stored in
/// `format`, with groups of `group` input features (integer formats).
int64_t matrix_bytes(WeightFormat format, int64_t rows, int64_t inputs, int64_t group);

/// Bytes per element of the tensors quantisation leaves alone (norms, biases, and the
/// embedding and LM head unless given their own format): fp32 under fp32, else 16-bit.
int64_t unquantised_bytes(WeightFormat format);

enum class KvFormat { kBf16, kFp16, kFp8, kInt8 };

struct KvFormatInfo {
  KvFormat format;
  const char* name;
  int64_t bytes;  ///< per element (8-bit formats: per-tensor scales, not counted)
};

const std::vector<KvFormatInfo>& kv_formats();
const KvFormatInfo* find_kv_format(const std::string& name);
const KvFormatInfo& kv_format_info(KvFormat format);

}  // namespace memsim::strategies
