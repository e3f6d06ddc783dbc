// One declaration per config key: its name, the struct field it sets, its bounds and its doc.
// Parsing, dumping (--dump-config, and the config.yaml every checkpoint stores) and the key
// tables of docs/training.md (`ternary-train --config-keys`) are all generated from it, so a key
// cannot be read but not dumped (a resume would silently reset it) or documented but not read.
// Numbers must be finite; every error names file:line and section.key.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cmath>
#include <functional>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "common/config_error.h"
#include "quantizers/yaml_reader.h"

namespace ternary {

// One `section:` map of a config (or the top level, name ""), for reading keys and failing at
// their lines.
class SectionNode {
 public:
  SectionNode(const YamlReader& reader, const YAML::Node& root, std::string name);

  // The key's node, or an undefined (false) node when the section or the key is absent.
  YAML::Node get(const std::string& key) const;
  bool has(const std::string& key) const { return static_cast<bool>(get(key)); }
  const std::string& name() const { return name_; }
  std::string qualified(const std::string& key) const { return name_.empty() ? key : name_ + "." + key; }
  const YamlReader& reader() const { return reader_; }
  const YAML::Node& node() const { return node_; }
  // "file:line: section.key: message", at the key's line (or the section's when it is absent).
  [[noreturn]] void fail(const std::string& key, const std::string& message) const;
  // The message as given, at the key's line.
  [[noreturn]] void fail_at(const std::string& key, const std::string& message) const;

 private:
  const YamlReader& reader_;
  std::string name_;
  YAML::Node root_, node_;
};

template <typename E>
struct EnumName {
  const char* name;
  E value;
};

// The name of `value` in `names` (the one spelling of an enum in configs).
template <typename E>
const char* enum_name(const std::vector<EnumName<E>>& names, E value) {
  for (const auto& n : names)
    if (n.value == value) return n.name;
  return "?";
}

// {to_string(v), v} for each value: an enum's config spelling is its to_string.
template <typename E>
std::vector<EnumName<E>> named(std::initializer_list<E> values) {
  std::vector<EnumName<E>> names;
  for (E v : values) names.push_back({to_string(v), v});
  return names;
}

std::string format_number(double value);        // shortest round-trip text, for messages and docs
std::string join_names(const std::vector<std::string>& names);  // "a, b, c"

template <typename S>
class ConfigSchema {
 public:
  struct Key {
    using Read = std::function<void(const SectionNode&, S&)>;
    using Write = std::function<bool(YAML::Emitter&, const S&)>;
    using Show = std::function<std::string(const S&)>;
    Key(std::string name, std::string doc, std::string bounds, Read read, Write write, Show show)
        : name(std::move(name)), doc(std::move(doc)), bounds(std::move(bounds)), read(std::move(read)),
          write(std::move(write)), show(std::move(show)) {}

    std::string name, doc, bounds;
    Read read;                             // called only when the key is present
    Write write;                           // emits key and value; false = nothing to emit
    Show show;                             // the value as docs show a default
    std::function<bool(const S&)> applies;  // empty = always
  };

  explicit ConfigSchema(std::string section) : section_(std::move(section)) {}

  ConfigSchema& integer(const char* key, int64_t S::*field, int64_t min, int64_t max, const char* doc) {
    const std::string bounds = max == std::numeric_limits<int64_t>::max()
                                   ? ">= " + std::to_string(min)
                                   : "[" + std::to_string(min) + ", " + std::to_string(max) + "]";
    return add({key, doc, bounds,
                [=](const SectionNode& s, S& out) {
                  const int64_t v = s.reader().template scalar<int64_t>(s.get(key), key, "an integer");
                  if (v < min || v > max) s.fail(key, "must be " + (max == std::numeric_limits<int64_t>::max()
                                                                         ? ">= " + std::to_string(min)
                                                                         : "in " + bounds) +
                                                          ", got " + std::to_string(v));
                  out.*field = v;
                },
                [=](YAML::Emitter& e, const S& in) { return e << YAML::Key << key << YAML::Value << in.*field, true; },
                [=](const S& in) { return std::to_string(in.*field); }});
  }
  // `auto` (stored as 0) or an integer >= min.
  ConfigSchema& integer_or_auto(const char* key, int64_t S::*field, int64_t min, const char* doc) {
    return add({key, doc, "auto or >= " + std::to_string(min),
                [=](const SectionNode& s, S& out) {
                  const YAML::Node n = s.get(key);
                  if (n.IsScalar() && n.Scalar() == "auto") return void(out.*field = 0);
                  const int64_t v = s.reader().template scalar<int64_t>(n, key, "an integer or auto");
                  if (v < min) s.fail(key, "must be auto or >= " + std::to_string(min) + ", got " + std::to_string(v));
                  out.*field = v;
                },
                [=](YAML::Emitter& e, const S& in) {
                  e << YAML::Key << key << YAML::Value;
                  if (in.*field == 0) e << "auto";
                  else e << in.*field;
                  return true;
                },
                [=](const S& in) { return in.*field == 0 ? std::string("auto") : std::to_string(in.*field); }});
  }
  // A finite number in [min, max] (max may be infinity; min_exclusive makes it (min, max]).
  ConfigSchema& number(const char* key, double S::*field, double min, double max, const char* doc,
                       bool min_exclusive = false) {
    return add({key, doc, number_bounds(min, max, min_exclusive),
                [=](const SectionNode& s, S& out) { out.*field = read_number(s, s.get(key), key, min, max, min_exclusive); },
                [=](YAML::Emitter& e, const S& in) {
                  return e << YAML::Key << key << YAML::Value << yaml_number(in.*field), true;
                },
                [=](const S& in) { return format_number(in.*field); }});
  }
  ConfigSchema& flag(const char* key, bool S::*field, const char* doc) {
    return add({key, doc, "true, false",
                [=](const SectionNode& s, S& out) {
                  out.*field = s.reader().template scalar<bool>(s.get(key), key, "true or false");
                },
                [=](YAML::Emitter& e, const S& in) { return e << YAML::Key << key << YAML::Value << in.*field, true; },
                [=](const S& in) { return std::string(in.*field ? "true" : "false"); }});
  }
  // quoted: dumped in double quotes, so escapes such as "\n" survive the round trip.
  ConfigSchema& text(const char* key, std::string S::*field, const char* doc, bool quoted = false,
                     bool allow_empty = true) {
    return add({key, doc, allow_empty ? "text, may be empty" : "non-empty text",
                [=](const SectionNode& s, S& out) {
                  out.*field = s.reader().template scalar<std::string>(s.get(key), key, "a string");
                  if (!allow_empty && (out.*field).empty()) s.fail(key, "must not be empty");
                },
                [=](YAML::Emitter& e, const S& in) {
                  e << YAML::Key << key << YAML::Value;
                  if (quoted) e << YAML::DoubleQuoted;
                  return e << in.*field, true;
                },
                [=](const S& in) { return quoted ? escaped(in.*field) : in.*field; }});
  }
  // A path or a list of paths.
  ConfigSchema& paths(const char* key, std::vector<std::string> S::*field, const char* doc) {
    return add({key, doc, "path or list of paths",
                [=](const SectionNode& s, S& out) {
                  const YAML::Node n = s.get(key);
                  (out.*field).clear();
                  if (n.IsScalar()) (out.*field).push_back(s.reader().template scalar<std::string>(n, key, "a path"));
                  else if (n.IsSequence())
                    for (const auto& p : n) (out.*field).push_back(s.reader().template scalar<std::string>(p, key, "a path"));
                  else s.fail(key, "must be a path or a list of paths");
                },
                [=](YAML::Emitter& e, const S& in) {
                  return e << YAML::Key << key << YAML::Value << YAML::Flow << in.*field, true;
                },
                [=](const S& in) { return "[" + join_names(in.*field) + "]"; }});
  }
  template <typename E>
  ConfigSchema& choice(const char* key, E S::*field, std::vector<EnumName<E>> names, const char* doc) {
    std::vector<std::string> spelled;
    for (const auto& n : names) spelled.push_back(n.name);
    return add({key, doc, join_names(spelled),
                [=](const SectionNode& s, S& out) {
                  const auto v = s.reader().template scalar<std::string>(s.get(key), key, "a string");
                  for (const auto& n : names)
                    if (v == n.name) return void(out.*field = n.value);
                  s.fail(key, "unknown value '" + v + "' (expected one of: " + join_names(spelled) + ")");
                },
                [=](YAML::Emitter& e, const S& in) {
                  return e << YAML::Key << key << YAML::Value << enum_name(names, in.*field), true;
                },
                [=](const S& in) { return std::string(enum_name(names, in.*field)); }});
  }
  // A key with its own reading and writing (e.g. the recipe source of `quantization`).
  ConfigSchema& custom(Key key) { return add(std::move(key)); }

  // The last declared key exists only when `applies` holds (e.g. `eps` only for Adam-type optimizers).
  ConfigSchema& when(std::function<bool(const S&)> applies) {
    keys_.back().applies = std::move(applies);
    conditional_ = true;
    return *this;
  }
  // Rules across keys and dependent defaults, after every key is read.
  ConfigSchema& check(std::function<void(const SectionNode&, S&)> rule) {
    checks_.push_back(std::move(rule));
    return *this;
  }
  // How unknown-key errors name the section given its values ("optimizer 'lion8bit'").
  ConfigSchema& label(std::function<std::string(const S&)> label) {
    label_ = std::move(label);
    return *this;
  }

  // Reads the section `section_` of `root` (the root itself for the top level, whose unknown keys
  // the caller checks) into `out`, which holds the defaults.
  void parse(const YamlReader& reader, const YAML::Node& root, S& out) const {
    const SectionNode s(reader, root, section_);
    if (s.node() && !section_.empty()) {
      if (!s.node().IsMap()) reader.fail(s.node(), "'" + section_ + "' must be a map of keys");
      if (!conditional_) reader.check_keys(s.node(), names(out), section_);
    }
    for (const Key& k : keys_)
      if ((!k.applies || k.applies(out)) && s.has(k.name)) k.read(s, out);
    if (s.node() && !section_.empty() && conditional_)
      reader.check_keys(s.node(), names(out), label_ ? label_(out) : section_);
    for (const auto& rule : checks_) rule(s, out);
  }
  // Every key that applies, in declaration order, into an open YAML map.
  void dump(YAML::Emitter& e, const S& in) const {
    for (const Key& k : keys_)
      if (!k.applies || k.applies(in)) k.write(e, in);
  }
  std::vector<std::string> names(const S& in) const {
    std::vector<std::string> result;
    for (const Key& k : keys_)
      if (!k.applies || k.applies(in)) result.push_back(k.name);
    return result;
  }
  const std::vector<Key>& keys() const { return keys_; }
  const std::string& section() const { return section_; }
  // Markdown rows "| `section.key` | default | allowed | doc |" for docs/training.md.
  std::string markdown_rows(const S& defaults) const {
    std::string rows;
    for (const Key& k : keys_) {
      const std::string shown = k.show(defaults);
      rows += "| `" + (section_.empty() ? k.name : section_ + "." + k.name) + "` | " +
              (shown.empty() || shown == "—" ? std::string("—") : "`" + shown + "`") + " | " + k.bounds + " | " +
              k.doc + " |\n";
    }
    return rows;
  }

  // "[0, 1]", ">= 0", "> 0".
  static std::string number_bounds(double min, double max, bool min_exclusive) {
    if (std::isinf(max)) return (min_exclusive ? "> " : ">= ") + format_number(min);
    return (min_exclusive ? "(" : "[") + format_number(min) + ", " + format_number(max) + "]";
  }
  static double read_number(const SectionNode& s, const YAML::Node& n, const std::string& key, double min, double max,
                            bool min_exclusive = false) {
    const double v = s.reader().template scalar<double>(n, key, "a number");
    if (!std::isfinite(v)) s.fail(key, "must be a finite number, got " + n.Scalar());
    if (v < min || v > max || (min_exclusive && v == min)) {
      const std::string bounds = number_bounds(min, max, min_exclusive);
      s.fail(key, "must be " + std::string(bounds[0] == '[' || bounds[0] == '(' ? "in " : "") + bounds + ", got " +
                      format_number(v));
    }
    return v;
  }

 private:
  static std::string escaped(const std::string& text) {
    std::string out = "\"";
    for (char c : text) out += c == '\n' ? std::string("\\n") : c == '"' ? std::string("\\\"") : std::string(1, c);
    return out + "\"";
  }
  ConfigSchema& add(Key key) {
    keys_.push_back(std::move(key));
    return *this;
  }

  std::string section_;
  std::vector<Key> keys_;
  std::vector<std::function<void(const SectionNode&, S&)>> checks_;
  std::function<std::string(const S&)> label_;
  bool conditional_ = false;
};

}  // namespace ternary
