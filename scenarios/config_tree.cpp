#include "scenarios/config_tree.h"

#include <sstream>
#include <unordered_map>

#include <fmt/format.h>
#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "scenarios/input_text.h"

namespace memsim::scenarios {

namespace {

/// Bounds on a file's tree, checked while it is built: YAML aliases repeat what they name,
/// so a few hundred bytes can expand to billions of values.
constexpr size_t kMostValues = 100'000;
constexpr int kMostDepth = 64;

Location at(const std::string& origin, const YAML::Mark& mark) {
  if (mark.line < 0) return {origin, 0, 0};
  return {origin, mark.line + 1, mark.column + 1};
}

class Converter {
 public:
  explicit Converter(std::string origin) : origin_(std::move(origin)) {}

  ConfigNode convert(const YAML::Node& node, int depth) {
    ConfigNode out;
    out.where = at(origin_, node.Mark());
    if (++values_ > kMostValues) {
      throw InputError(out.where, fmt::format("the file holds more than {} values (aliases "
                                              "included, counted each time they are used)",
                                              kMostValues));
    }
    if (depth > kMostDepth) {
      throw InputError(out.where, fmt::format("values nested more than {} deep", kMostDepth));
    }
    switch (node.Type()) {
      case YAML::NodeType::Undefined:
      case YAML::NodeType::Null:
        out.kind = ConfigNode::Kind::kNull;
        break;
      case YAML::NodeType::Scalar:
        out.kind = ConfigNode::Kind::kScalar;
        out.scalar = node.Scalar();
        break;
      case YAML::NodeType::Sequence:
        out.kind = ConfigNode::Kind::kSequence;
        for (const YAML::Node& item : node)
          out.items.push_back(convert(item, depth + 1));
        break;
      case YAML::NodeType::Map: {
        out.kind = ConfigNode::Kind::kMap;
        std::unordered_map<std::string, int> lines;  // of each key, to find duplicates
        for (auto it = node.begin(); it != node.end(); ++it)
          add_entry(out, lines, it->first, it->second, depth);
        break;
      }
    }
    return out;
  }

 private:
  void add_entry(ConfigNode& map, std::unordered_map<std::string, int>& lines,
                 const YAML::Node& key, const YAML::Node& value, int depth) {
    const Location key_where = at(origin_, key.Mark());
    if (!key.IsScalar()) throw InputError(key_where, "keys must be plain names");
    const std::string name = key.Scalar();
    if (const auto [first, added] = lines.emplace(name, key_where.line); !added) {
      throw InputError(key_where,
                       fmt::format("duplicate key '{}' (first at line {})", name, first->second));
    }
    map.entries.push_back({name, key_where, convert(value, depth + 1)});
  }

  std::string origin_;
  size_t values_ = 0;
};

/// Where each document of a YAML stream starts, up to the second: found from the parser's
/// events alone, without building anything.
class DocumentStarts : public YAML::EventHandler {
 public:
  std::vector<YAML::Mark> starts;
  void OnDocumentStart(const YAML::Mark& mark) override { starts.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

/// A file holds one document. yaml-cpp reads a stray ',' or the like at the top as an endless
/// run of empty documents that start where the first did: that is a syntax error.
void check_one_document(const std::string& text, const std::string& origin) {
  std::istringstream stream(text);
  YAML::Parser parser(stream);
  DocumentStarts documents;
  while (documents.starts.size() < 2 && parser.HandleNextDocument(documents)) {
  }
  if (documents.starts.size() < 2) return;
  const YAML::Mark& first = documents.starts[0];
  const YAML::Mark& second = documents.starts[1];
  if (second.pos == first.pos) {
    const auto offset = static_cast<size_t>(std::max(second.pos, 0));
    throw InputError(at(origin, second), offset < text.size()
                                             ? fmt::format("unexpected '{}'", text[offset])
                                             : std::string("unexpected text"));
  }
  throw InputError(at(origin, second), "a second YAML document ('---'); a file holds one");
}

/// A tab in a line's indentation (YAML indents with spaces only), or npos.
size_t indenting_tab(const std::string& text) {
  bool line_start = true;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\n') {
      line_start = true;
    } else if (text[i] == '\t' && line_start) {
      return i;
    } else if (text[i] != ' ') {
      line_start = false;
    }
  }
  return std::string::npos;
}

}  // namespace

const ConfigNode::Entry* ConfigNode::entry(std::string_view key) const {
  for (const Entry& e : entries) {
    if (e.key == key) return &e;
  }
  return nullptr;
}

const ConfigNode* ConfigNode::get(std::string_view key) const {
  const Entry* e = entry(key);
  return e == nullptr ? nullptr : &e->value;
}

ConfigNode* ConfigNode::get(std::string_view key) {
  for (Entry& e : entries) {
    if (e.key == key) return &e.value;
  }
  return nullptr;
}

void ConfigNode::set(const std::string& key, const Location& key_where, ConfigNode value) {
  if (ConfigNode* existing = get(key)) {
    *existing = std::move(value);
    return;
  }
  entries.push_back({key, key_where, std::move(value)});
}

void ConfigNode::erase(std::string_view key) {
  std::erase_if(entries, [&](const Entry& e) { return e.key == key; });
}

std::string ConfigNode::describe() const {
  switch (kind) {
    case Kind::kScalar:
      return scalar;
    case Kind::kMap:
      return "a mapping";
    case Kind::kSequence:
      return "a list";
    case Kind::kNull:
      return "nothing";
  }
  return "?";
}

ConfigNode parse_yaml(const std::string& text, const std::string& origin) {
  check_utf8(text, origin);
  YAML::Node document;
  try {
    check_one_document(text, origin);
    document = YAML::Load(text);
  } catch (const YAML::DeepRecursion& e) {
    throw InputError(at(origin, e.mark),
                     fmt::format("values nested more than {} deep", kMostDepth));
  } catch (const YAML::Exception& e) {
    if (const size_t tab = indenting_tab(text); tab != std::string::npos) {
      throw InputError(location_at(text, tab, origin),
                       "a tab in the indentation; YAML indents with spaces only");
    }
    throw InputError(at(origin, e.mark), e.msg);
  }
  if (!document.IsDefined() || document.IsNull()) {
    ConfigNode empty;
    empty.where = {origin, 1, 1};
    return empty;
  }
  return Converter(origin).convert(document, 0);
}

ConfigNode load_yaml_file(const std::string& path) {
  return parse_yaml(read_input_file(path), path);
}

std::string flow_text(const ConfigNode& node) {
  switch (node.kind) {
    case ConfigNode::Kind::kScalar:
      return node.scalar;
    case ConfigNode::Kind::kNull:
      return "null";
    case ConfigNode::Kind::kSequence: {
      std::string text = "[";
      for (size_t i = 0; i < node.items.size(); ++i)
        text += (i ? ", " : "") + flow_text(node.items[i]);
      return text + "]";
    }
    case ConfigNode::Kind::kMap: {
      std::string text = "{";
      for (size_t i = 0; i < node.entries.size(); ++i) {
        text += (i ? ", " : "") + node.entries[i].key + ": " + flow_text(node.entries[i].value);
      }
      return text + "}";
    }
  }
  return "?";
}

const ConfigNode* find_dotted(const ConfigNode& root, const std::string& dotted) {
  const ConfigNode* node = &root;
  size_t start = 0;
  while (node != nullptr) {
    const size_t dot = dotted.find('.', start);
    node = node->is_map() ? node->get(dotted.substr(start, dot - start)) : nullptr;
    if (dot == std::string::npos) return node;
    start = dot + 1;
  }
  return nullptr;
}

void merge_into(ConfigNode& base, const ConfigNode& overlay) {
  if (!base.is_map() || !overlay.is_map()) {
    base = overlay;
    return;
  }
  for (const ConfigNode::Entry& e : overlay.entries) {
    if (ConfigNode* existing = base.get(e.key)) {
      merge_into(*existing, e.value);
    } else {
      base.entries.push_back(e);
    }
  }
}

void set_dotted(ConfigNode& root, const std::string& dotted, const ConfigNode& value) {
  ConfigNode* node = &root;
  size_t start = 0;
  while (true) {
    const size_t dot = dotted.find('.', start);
    const std::string key = dotted.substr(start, dot == std::string::npos ? dot : dot - start);
    if (dot == std::string::npos) {
      node->set(key, value.where, value);
      return;
    }
    ConfigNode* child = node->get(key);
    if (child == nullptr || !child->is_map()) {
      ConfigNode map;
      map.kind = ConfigNode::Kind::kMap;
      map.where = value.where;
      node->set(key, value.where, map);
      child = node->get(key);
    }
    node = child;
    start = dot + 1;
  }
}

}  // namespace memsim::scenarios
