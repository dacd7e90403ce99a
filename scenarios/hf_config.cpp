#include "scenarios/hf_config.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace memsim::scenarios {

namespace {

using nlohmann::json;

/// The config file's text and parsed JSON, with positions for messages.
class ConfigFile {
 public:
  explicit ConfigFile(std::string path) : path_(std::move(path)) {
    std::ifstream in(path_, std::ios::binary);
    if (!in)
      throw InputError({path_, 0, 0}, fmt::format("cannot read file: {}", std::strerror(errno)));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text_ = buffer.str();
    try {
      json_ = json::parse(text_);
    } catch (const json::parse_error& e) {
      throw InputError(at_offset(e.byte == 0 ? 0 : e.byte - 1),
                       "invalid JSON: " + std::string(e.what()));
    }
    if (!json_.is_object()) throw InputError({path_, 1, 1}, "expected a JSON object");
  }

  const json& root() const { return json_; }
  bool has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }

  /// Where `"key"` is written, or the file itself.
  Location at_key(const std::string& key) const {
    const size_t pos = text_.find('"' + key + '"');
    return pos == std::string::npos ? Location{path_, 0, 0} : at_offset(pos);
  }

  int64_t integer(const std::string& key) const {
    if (!has(key)) throw InputError({path_, 0, 0}, fmt::format("missing key \"{}\"", key));
    const json& value = json_[key];
    if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
      throw InputError(at_key(key),
                       fmt::format("\"{}\" = {}: expected a positive integer", key, value.dump()));
    }
    return value.get<int64_t>();
  }
  int64_t integer_or(const std::string& key, int64_t fallback) const {
    return has(key) ? integer(key) : fallback;
  }
  bool boolean_or(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!json_[key].is_boolean()) {
      throw InputError(at_key(key), fmt::format("\"{}\": expected true or false", key));
    }
    return json_[key].get<bool>();
  }
  double number_or(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    if (!json_[key].is_number())
      throw InputError(at_key(key), fmt::format("\"{}\": expected a number", key));
    return json_[key].get<double>();
  }
  std::string text_or(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!json_[key].is_string())
      throw InputError(at_key(key), fmt::format("\"{}\": expected a string", key));
    return json_[key].get<std::string>();
  }

 private:
  Location at_offset(size_t offset) const {
    int line = 1;
    int column = 1;
    for (size_t i = 0; i < offset && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return {path_, line, column};
  }

  std::string path_;
  std::string text_;
  json json_;
};

sim::ModelSpec read_llama_like(const ConfigFile& config, const std::string& type) {
  sim::ModelSpec spec;
  spec.layers = config.integer("num_hidden_layers");
  spec.hidden = config.integer("hidden_size");
  spec.heads = config.integer("num_attention_heads");
  spec.kv_heads = config.integer_or("num_key_value_heads", spec.heads);
  spec.head_dim = config.integer_or("head_dim", 0);
  spec.ffn = config.integer("intermediate_size");
  spec.vocab = config.integer("vocab_size");
  spec.tied_embeddings = config.boolean_or("tie_word_embeddings", false);
  spec.ffn_type = sim::FfnType::kSwiGlu;
  spec.norm = sim::NormType::kRmsNorm;
  spec.positions = sim::PositionType::kRope;
  spec.dropout = config.number_or("attention_dropout", 0.0);
  const std::string act = config.text_or("hidden_act", "silu");
  if (act != "silu" && act != "swish") {
    throw InputError(config.at_key("hidden_act"),
                     fmt::format("\"hidden_act\" = \"{}\": only gated SiLU (SwiGLU) MLPs are "
                                 "modelled for {}",
                                 act, type));
  }
  // Qwen2 puts biases on q, k and v (Qwen2Attention); LLaMA's attention_bias adds them to
  // o as well, and mlp_bias to the MLP.
  const bool attention_bias = config.boolean_or("attention_bias", false);
  const bool mlp_bias = config.boolean_or("mlp_bias", false);
  if (attention_bias != mlp_bias) {
    throw InputError(config.at_key(attention_bias ? "attention_bias" : "mlp_bias"),
                     "attention_bias and mlp_bias differ; memsim models biases on every linear "
                     "layer or on q, k, v only");
  }
  spec.bias = attention_bias;
  spec.qkv_bias = type == "qwen2";
  return spec;
}

sim::ModelSpec read_gpt2(const ConfigFile& config, const std::string& /*type*/) {
  sim::ModelSpec spec;
  spec.layers = config.integer("n_layer");
  spec.hidden = config.integer("n_embd");
  spec.heads = config.integer("n_head");
  spec.kv_heads = spec.heads;
  spec.ffn = config.integer_or("n_inner", 4 * spec.hidden);
  spec.vocab = config.integer("vocab_size");
  spec.max_positions = config.integer("n_positions");
  spec.tied_embeddings = config.boolean_or("tie_word_embeddings", true);
  spec.ffn_type = sim::FfnType::kGelu;
  spec.norm = sim::NormType::kLayerNorm;
  spec.bias = true;
  spec.positions = sim::PositionType::kLearned;
  spec.dropout = config.number_or("resid_pdrop", 0.1);
  return spec;
}

struct Family {
  const char* model_type;
  sim::ModelSpec (*read)(const ConfigFile&, const std::string&);
};

constexpr Family kFamilies[] = {
    {"llama", read_llama_like},
    {"mistral", read_llama_like},
    {"qwen2", read_llama_like},
    {"gpt2", read_gpt2},
};

}  // namespace

sim::ModelSpec read_hf_config(const std::string& path) {
  const ConfigFile config(path);
  if (!config.has("model_type")) {
    throw InputError({path, 0, 0}, "missing key \"model_type\"");
  }
  const std::string type = config.text_or("model_type", "");
  for (const Family& family : kFamilies) {
    if (type != family.model_type) continue;
    sim::ModelSpec spec = family.read(config, type);
    spec.name = config.text_or("_name_or_path", type);
    return spec;
  }
  throw InputError(config.at_key("model_type"),
                   fmt::format("\"model_type\" = \"{}\" is not supported (llama, mistral, "
                               "qwen2, gpt2)",
                               type));
}

}  // namespace memsim::scenarios
