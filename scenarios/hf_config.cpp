#include "scenarios/hf_config.h"

#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "scenarios/hf_config_keys.h"
#include "scenarios/input_text.h"
#include "sim/limits.h"

namespace memsim::scenarios {

namespace {

using json = nlohmann::ordered_json;

/// Deeper nesting than any config.json has: refused before parsing.
constexpr int kMostJsonDepth = 64;

/// How deeply arrays and objects nest in `text` (brackets inside strings skipped).
int json_depth(const std::string& text) {
  int depth = 0;
  int deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

/// The config file's text and parsed JSON, with positions for messages; remembers which
/// keys were read.
class ConfigFile {
 public:
  ConfigFile(std::string text, std::string origin)
      : origin_(std::move(origin)), text_(std::move(text)) {
    check_utf8(text_, origin_);
    if (json_depth(text_) > kMostJsonDepth) {
      throw InputError({origin_, 1, 1},
                       fmt::format("values nested more than {} deep", kMostJsonDepth));
    }
    if (text_.find_first_not_of(" \t\r\n") == std::string::npos) {
      throw InputError({origin_, 1, 1}, "the file is empty; expected a JSON object");
    }
    try {
      json_ = json::parse(text_);
    } catch (const json::parse_error& e) {
      // "[json.exception.parse_error.101] parse error at line 1, column 1: syntax error ...":
      // the position is the message's own.
      std::string what = e.what();
      if (const size_t colon = what.find(": ", what.find("column")); colon != std::string::npos) {
        what = what.substr(colon + 2);
      }
      throw InputError(location_at(text_, e.byte == 0 ? 0 : e.byte - 1, origin_),
                       "invalid JSON: " + what);
    } catch (const nlohmann::json::out_of_range& e) {
      // 406: a number past a double ("number overflow parsing '1e1008'"), the only one
      // parsing throws; the message quotes it.
      const std::string what = e.what();
      const size_t quote = what.find('\'');
      const std::string number =
          quote == std::string::npos ? "" : what.substr(quote + 1, what.rfind('\'') - quote - 1);
      const size_t at = number.empty() ? std::string::npos : text_.find(number);
      throw InputError(
          at == std::string::npos ? Location{origin_, 0, 0} : location_at(text_, at, origin_),
          fmt::format("the number {} is too large", number));
    }
    if (!json_.is_object()) throw InputError({origin_, 1, 1}, "expected a JSON object");
  }

  const json& root() const { return json_; }
  const std::string& origin() const { return origin_; }
  bool has(const std::string& key) const { return json_.contains(key) && !json_[key].is_null(); }
  bool was_read(const std::string& key) const { return read_.count(key) > 0; }
  void mark_read(const std::string& key) const { read_.insert(key); }

  /// Where `"key"` is written, or the file itself.
  Location at_key(const std::string& key) const {
    const size_t pos = text_.find('"' + key + '"');
    return pos == std::string::npos ? Location{origin_, 0, 0} : location_at(text_, pos, origin_);
  }

  int64_t integer(const std::string& key) const {
    mark_read(key);
    if (!has(key)) throw InputError({origin_, 0, 0}, fmt::format("missing key \"{}\"", key));
    const json& value = json_[key];
    if (!value.is_number_integer() || value.get<int64_t>() <= 0) {
      throw InputError(at_key(key),
                       fmt::format("\"{}\" = {}: expected a positive integer", key, brief(value)));
    }
    return value.get<int64_t>();
  }
  int64_t integer_or(const std::string& key, int64_t fallback) const {
    mark_read(key);
    return has(key) ? integer(key) : fallback;
  }
  bool boolean_or(const std::string& key, bool fallback) const {
    mark_read(key);
    if (!has(key)) return fallback;
    if (!json_[key].is_boolean()) {
      throw InputError(at_key(key), fmt::format("\"{}\": expected true or false", key));
    }
    return json_[key].get<bool>();
  }
  double number_or(const std::string& key, double fallback) const {
    mark_read(key);
    if (!has(key)) return fallback;
    if (!json_[key].is_number())
      throw InputError(at_key(key), fmt::format("\"{}\": expected a number", key));
    return json_[key].get<double>();
  }
  std::string text_or(const std::string& key, const std::string& fallback) const {
    mark_read(key);
    if (!has(key)) return fallback;
    if (!json_[key].is_string())
      throw InputError(at_key(key), fmt::format("\"{}\": expected a string", key));
    return json_[key].get<std::string>();
  }

  /// A value for a message: its JSON, shortened.
  static std::string brief(const json& value) {
    std::string text = value.dump(-1, ' ', false, json::error_handler_t::replace);
    if (text.size() > 40) text = text.substr(0, 37) + "...";
    return text;
  }

 private:
  std::string origin_;
  std::string text_;
  json json_;
  mutable std::set<std::string> read_;
};

/// Sliding-window attention: Mistral's `sliding_window`; Qwen2 has it too, used only with
/// `use_sliding_window` (and then from layer `max_window_layers` on; any use counts).
int64_t read_window(const ConfigFile& config) {
  const bool used = config.boolean_or("use_sliding_window", true);
  config.mark_read("max_window_layers");
  config.mark_read("sliding_window");
  if (!used || !config.has("sliding_window")) return 0;
  return config.integer("sliding_window");
}

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
  spec.attention_window = read_window(config);
  return spec;
}

sim::ModelSpec read_gpt2(const ConfigFile& config, const std::string& /*type*/) {
  sim::ModelSpec spec;
  spec.layers = config.integer("n_layer");
  spec.hidden = config.integer("n_embd");
  spec.heads = config.integer("n_head");
  spec.kv_heads = spec.heads;
  // n_inner defaults to 4 × n_embd (GPT2MLP); an n_embd past memsim's limits is refused
  // with the model's other sizes, and must not overflow here first.
  const bool sized = spec.hidden > 0 && spec.hidden <= sim::kMostHidden;
  spec.ffn = config.integer_or("n_inner", sized ? 4 * spec.hidden : spec.hidden);
  spec.vocab = config.integer("vocab_size");
  spec.max_positions = config.integer("n_positions");
  spec.tied_embeddings = config.boolean_or("tie_word_embeddings", true);
  spec.ffn_type = sim::FfnType::kGelu;
  spec.norm = sim::NormType::kLayerNorm;
  spec.bias = true;
  spec.positions = sim::PositionType::kLearned;
  spec.dropout = config.number_or("resid_pdrop", 0.1);
  // GELU in any of its approximations saves its input alike (GPT2MLP, ACT2FN).
  const std::string act = config.text_or("activation_function", "gelu_new");
  if (!act.starts_with("gelu")) {
    throw InputError(config.at_key("activation_function"),
                     fmt::format("\"activation_function\" = \"{}\": only GELU MLPs are modelled "
                                 "for gpt2",
                                 act));
  }
  return spec;
}

/// A ModelSpec field (as find_problems names it) and the config key it comes from.
struct FieldKey {
  const char* field;
  const char* key;
};

struct Family {
  const char* model_type;
  sim::ModelSpec (*read)(const ConfigFile&, const std::string&);
  std::vector<FieldKey> fields;
};

const std::vector<Family>& families() {
  static const std::vector<FieldKey> kLlamaFields = {
      {"layers", "num_hidden_layers"},  {"hidden", "hidden_size"},
      {"heads", "num_attention_heads"}, {"kv_heads", "num_key_value_heads"},
      {"head_dim", "head_dim"},         {"ffn", "intermediate_size"},
      {"vocab", "vocab_size"},          {"dropout", "attention_dropout"}};
  static const std::vector<Family> kFamilies = {
      {"llama", read_llama_like, kLlamaFields},
      {"mistral", read_llama_like, kLlamaFields},
      {"qwen2", read_llama_like, kLlamaFields},
      {"gpt2",
       read_gpt2,
       {{"layers", "n_layer"},
        {"hidden", "n_embd"},
        {"heads", "n_head"},
        {"kv_heads", "n_head"},
        {"ffn", "n_inner"},
        {"vocab", "vocab_size"},
        {"max_positions", "n_positions"},
        {"dropout", "resid_pdrop"}}},
  };
  return kFamilies;
}

/// A value that turns a feature on: not null, false, zero or empty.
bool sets_something(const json& value) {
  if (value.is_null()) return false;
  if (value.is_boolean()) return value.get<bool>();
  if (value.is_number()) return value.get<double>() != 0.0;
  return !value.empty();
}

/// Every key not read is knowingly ignored, refused, or unknown (a warning).
void account_for_keys(const ConfigFile& config, const std::string& type, Diagnostics& errors,
                      std::vector<Diagnostic>* warnings) {
  for (const auto& [key, value] : config.root().items()) {
    if (config.was_read(key)) continue;
    const HfKeyRule* rule = find_hf_key_rule(type, key);
    if (rule == nullptr) {
      if (warnings != nullptr) {
        warnings->push_back(
            {config.at_key(key),
             fmt::format("\"{}\" is not a key memsim knows for {} models and was ignored; if it "
                         "changes the architecture, memsim's figures are wrong",
                         key, type)});
      }
    } else if (rule->use == HfKeyUse::kRefused && sets_something(value)) {
      errors.error(config.at_key(key), fmt::format("\"{}\" = {}: {}, which memsim does not model",
                                                   key, ConfigFile::brief(value), rule->why));
    }
  }
}

/// The spec's own checks (sim::find_problems: sizes within memsim's limits, divisibility),
/// reported at the config key each field came from.
void check_spec(const sim::ModelSpec& spec, const Family& family, const ConfigFile& config,
                Diagnostics& errors) {
  for (const sim::SpecProblem& problem : sim::find_problems(spec)) {
    const char* key = nullptr;
    for (const FieldKey& f : family.fields) {
      if (problem.key == f.field) key = f.key;
    }
    if (key != nullptr && config.has(key)) {
      errors.error(config.at_key(key), fmt::format("\"{}\": {}", key, problem.message));
    } else {
      errors.error({config.origin(), 0, 0}, problem.message);
    }
  }
}

}  // namespace

sim::ModelSpec parse_hf_config(const std::string& text, const std::string& origin,
                               std::vector<Diagnostic>* warnings) {
  const ConfigFile config(text, origin);
  if (!config.has("model_type")) throw InputError({origin, 0, 0}, "missing key \"model_type\"");
  const std::string type = config.text_or("model_type", "");
  for (const Family& family : families()) {
    if (type != family.model_type) continue;
    sim::ModelSpec spec = family.read(config, type);
    spec.name = config.text_or("_name_or_path", type);
    Diagnostics errors;
    check_spec(spec, family, config, errors);
    account_for_keys(config, type, errors, warnings);
    errors.throw_if_any();
    return spec;
  }
  throw InputError(config.at_key("model_type"),
                   fmt::format("\"model_type\" = \"{}\" is not supported (llama, mistral, "
                               "qwen2, gpt2)",
                               type));
}

sim::ModelSpec read_hf_config(const std::string& path, std::vector<Diagnostic>* warnings) {
  return parse_hf_config(read_input_file(path), path, warnings);
}

}  // namespace memsim::scenarios
