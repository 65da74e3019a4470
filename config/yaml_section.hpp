#pragma once

// Reading one YAML mapping of the config with its key path: every value read through a Section
// has ${VAR} expanded, is type- and range-checked, and every problem is recorded as
// "<key path>: <message>" without stopping, so that a user sees all mistakes at once.

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/env_expand.hpp"

namespace pgdual::config {

class Diagnostics {
 public:
  void error(const std::string& path, std::string_view message);
  void warning(const std::string& path, std::string_view message);
  // True when an error was recorded at path or under it (path.x, path[0]).
  bool failed(std::string_view path) const;

  std::vector<std::string> errors;
  std::vector<std::string> warnings;

 private:
  std::set<std::string, std::less<>> failed_paths_;
};

struct LoadContext {
  Diagnostics& diag;
  const EnvLookup& env;
  std::string base_dir;  // relative *_file paths resolve against it
};

// "a.b" for plain keys; keys holding a '.' or unusual characters are quoted: a["public.orders"].
std::string child_path(std::string_view parent, std::string_view key);
std::string index_path(std::string_view parent, std::size_t index);
// "a mapping", "a list", "a value" or "nothing", for messages.
std::string_view describe_node(const YAML::Node& node);

struct ScalarValue {
  std::string text;  // after ${VAR} expansion
  bool from_environment = false;
};

class Section {
 public:
  // A null node is an empty section. Anything but a mapping is reported once and reads as empty.
  // Keys outside known_keys and duplicate keys are reported here.
  Section(const YAML::Node& node, std::string path, LoadContext& ctx,
          std::vector<std::string_view> known_keys);

  const std::string& path() const { return path_; }
  LoadContext& context() { return ctx_; }
  std::string key_path(std::string_view key) const { return child_path(path_, key); }

  // Present with a non-null value.
  bool has(std::string_view key) const;
  // The value, or an undefined node when the key is absent.
  YAML::Node get(std::string_view key) const;
  // Records "<path>.<key>: required" when the key is absent; returns has(key).
  bool require(std::string_view key, std::string_view what = {});
  void error(std::string_view key, std::string_view message);

  // Each reader leaves `out` untouched and returns false when the key is absent or invalid
  // (the latter recorded as an error). `expected` phrases the type for messages.
  std::optional<ScalarValue> scalar(std::string_view key, std::string_view expected);
  bool read_string(std::string_view key, std::string& out, bool allow_empty = false);
  bool read_optional_string(std::string_view key, std::optional<std::string>& out);
  bool read_path(std::string_view key, std::string& out);  // resolved against base_dir
  bool read_unsigned(std::string_view key, std::uint64_t& out, std::uint64_t min,
                     std::uint64_t max);
  bool read_bool(std::string_view key, bool& out);
  bool read_double(std::string_view key, double& out, double min, double max);
  bool read_milliseconds(std::string_view key, std::chrono::milliseconds& out, std::uint64_t min,
                         std::uint64_t max);
  bool read_byte_size(std::string_view key, std::size_t& out, std::uint64_t min, std::uint64_t max);
  bool read_string_list(std::string_view key, std::vector<std::string>& out);
  // A secret given as value_key (literal or ${VAR}) or as file_key (a file holding it); both
  // together is an error. Values never appear in messages.
  bool read_secret(std::string_view value_key, std::string_view file_key, std::string& out);
  // The elements of a list (a null value is an empty list).
  std::vector<YAML::Node> read_list(std::string_view key);

  template <class Int>
  bool read_integer(std::string_view key, Int& out, std::uint64_t min, std::uint64_t max) {
    std::uint64_t v = 0;
    if (!read_unsigned(key, v, min, max)) return false;
    out = static_cast<Int>(v);
    return true;
  }

  template <class E>
  bool read_enum(std::string_view key, E& out, std::optional<E> (*parse)(std::string_view),
                 std::string_view choices) {
    const std::string expected = "one of " + std::string(choices);
    auto value = scalar(key, expected);
    if (!value) return false;
    const auto parsed = parse(value->text);
    if (!parsed) {
      report_bad_value(key, expected, value->text);
      return false;
    }
    out = *parsed;
    return true;
  }

 private:
  void report_bad_value(std::string_view key, std::string_view expected, std::string_view got);
  bool known(std::string_view key) const;

  std::string path_;
  LoadContext& ctx_;
  std::vector<std::string_view> known_keys_;
  std::vector<std::pair<std::string, YAML::Node>> entries_;
};

}  // namespace pgdual::config
