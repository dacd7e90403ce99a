#include "scenarios/config_tree.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

namespace memsim::scenarios {

namespace {

Location at(const std::string& origin, const YAML::Mark& mark) {
  if (mark.line < 0) return {origin, 0, 0};
  return {origin, mark.line + 1, mark.column + 1};
}

ConfigNode convert(const YAML::Node& node, const std::string& origin) {
  ConfigNode out;
  out.where = at(origin, node.Mark());
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
        out.items.push_back(convert(item, origin));
      break;
    case YAML::NodeType::Map:
      out.kind = ConfigNode::Kind::kMap;
      for (auto it = node.begin(); it != node.end(); ++it) {
        const Location key_where = at(origin, it->first.Mark());
        if (!it->first.IsScalar()) throw InputError(key_where, "keys must be plain names");
        const std::string key = it->first.Scalar();
        if (const ConfigNode::Entry* previous = out.entry(key)) {
          throw InputError(key_where, fmt::format("duplicate key '{}' (first at line {})", key,
                                                  previous->key_where.line));
        }
        out.entries.push_back({key, key_where, convert(it->second, origin)});
      }
      break;
  }
  return out;
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
  try {
    return convert(YAML::Load(text), origin);
  } catch (const YAML::Exception& e) {
    throw InputError(at(origin, e.mark), e.msg);
  }
}

ConfigNode load_yaml_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw InputError(Location{path, 0, 0},
                     fmt::format("cannot read file: {}", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_yaml(text.str(), path);
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
