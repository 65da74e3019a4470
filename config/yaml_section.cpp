#include "config/yaml_section.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <sstream>

#include "config/files.hpp"
#include "config/value_parsers.hpp"

namespace pgdual::config {
namespace {

bool plain_key(std::string_view key) {
  if (key.empty()) return false;
  return std::all_of(key.begin(), key.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string join(const std::vector<std::string_view>& words) {
  std::string out;
  for (std::size_t i = 0; i < words.size(); ++i) {
    if (i > 0) out += ", ";
    out += words[i];
  }
  return out;
}

std::string unknown_key_message(std::string_view key, const std::vector<std::string_view>& known) {
  std::string_view best;
  std::size_t best_distance = 3;  // suggest only close matches
  for (std::string_view candidate : known) {
    const std::size_t d = edit_distance(key, candidate);
    if (d < best_distance) {
      best_distance = d;
      best = candidate;
    }
  }
  std::string message = "unknown key";
  if (!best.empty()) {
    message += " (did you mean \"" + std::string(best) + "\"?)";
  } else if (!known.empty()) {
    message += " (expected one of: " + join(known) + ")";
  }
  return message;
}

}  // namespace

void Diagnostics::error(const std::string& path, std::string_view message) {
  errors.push_back(path + ": " + std::string(message));
  failed_paths_.insert(path);
}

void Diagnostics::warning(const std::string& path, std::string_view message) {
  warnings.push_back(path + ": " + std::string(message));
}

bool Diagnostics::failed(std::string_view path) const {
  for (auto it = failed_paths_.lower_bound(path); it != failed_paths_.end(); ++it) {
    const std::string_view p = *it;
    if (p.substr(0, path.size()) != path) break;
    if (p.size() == path.size() || p[path.size()] == '.' || p[path.size()] == '[') return true;
  }
  return false;
}

std::string child_path(std::string_view parent, std::string_view key) {
  std::string out(parent);
  if (plain_key(key)) {
    if (!out.empty()) out += '.';
    out += key;
  } else {
    out += '[' + quote_for_message(key) + ']';
  }
  return out;
}

std::string index_path(std::string_view parent, std::size_t index) {
  return std::string(parent) + '[' + std::to_string(index) + ']';
}

std::string_view describe_node(const YAML::Node& node) {
  if (!node.IsDefined() || node.IsNull()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  return "a value";
}

Section::Section(const YAML::Node& node, std::string path, LoadContext& ctx,
                 std::vector<std::string_view> known_keys)
    : path_(std::move(path)), ctx_(ctx), known_keys_(std::move(known_keys)) {
  if (!node.IsDefined() || node.IsNull()) return;
  if (!node.IsMap()) {
    ctx_.diag.error(
        path_.empty() ? std::string("(top level)") : path_,
        "expected a mapping of keys to values, got " + std::string(describe_node(node)));
    return;
  }
  for (const auto& kv : node) {
    if (!kv.first.IsScalar()) {
      ctx_.diag.error(path_.empty() ? std::string("(top level)") : path_,
                      "a key must be a plain string, got " + std::string(describe_node(kv.first)));
      continue;
    }
    std::string key = kv.first.Scalar();
    const bool duplicate = std::any_of(entries_.begin(), entries_.end(),
                                       [&](const auto& e) { return e.first == key; });
    if (duplicate) {
      ctx_.diag.error(key_path(key), "duplicate key (only one value may be given)");
      continue;
    }
    if (!known_keys_.empty() && !known(key)) {
      ctx_.diag.error(key_path(key), unknown_key_message(key, known_keys_));
    }
    entries_.emplace_back(std::move(key), kv.second);
  }
}

bool Section::known(std::string_view key) const {
  return std::find(known_keys_.begin(), known_keys_.end(), key) != known_keys_.end();
}

YAML::Node Section::get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

bool Section::has(std::string_view key) const {
  const YAML::Node n = get(key);
  return n.IsDefined() && !n.IsNull();
}

bool Section::require(std::string_view key, std::string_view what) {
  if (has(key)) return true;
  std::string message = "required";
  if (!what.empty()) message += " (" + std::string(what) + ")";
  ctx_.diag.error(key_path(key), message);
  return false;
}

void Section::error(std::string_view key, std::string_view message) {
  ctx_.diag.error(key_path(key), message);
}

void Section::report_bad_value(std::string_view key, std::string_view expected,
                               std::string_view got) {
  error(key, "expected " + std::string(expected) + ", got " + quote_for_message(got));
}

std::optional<ScalarValue> Section::scalar(std::string_view key, std::string_view expected) {
  const YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return std::nullopt;
  if (!n.IsScalar()) {
    error(key, "expected " + std::string(expected) + ", got " + std::string(describe_node(n)));
    return std::nullopt;
  }
  ExpandResult expanded = expand_env(n.Scalar(), ctx_.env);
  if (!expanded.error.empty()) {
    error(key, expanded.error);
    return std::nullopt;
  }
  return ScalarValue{std::move(expanded.value), expanded.used_reference};
}

bool Section::read_string(std::string_view key, std::string& out, bool allow_empty) {
  auto v = scalar(key, "a string");
  if (!v) return false;
  if (!allow_empty && v->text.empty()) {
    error(key, "must not be empty");
    return false;
  }
  out = std::move(v->text);
  return true;
}

bool Section::read_optional_string(std::string_view key, std::optional<std::string>& out) {
  std::string s;
  if (!read_string(key, s)) return false;
  out = std::move(s);
  return true;
}

bool Section::read_path(std::string_view key, std::string& out) {
  std::string s;
  if (!read_string(key, s)) return false;
  out = resolve_path(ctx_.base_dir, s);
  return true;
}

bool Section::read_unsigned(std::string_view key, std::uint64_t& out, std::uint64_t min,
                            std::uint64_t max) {
  const std::string expected =
      "an integer between " + std::to_string(min) + " and " + std::to_string(max);
  auto v = scalar(key, expected);
  if (!v) return false;
  const auto n = parse_unsigned(v->text);
  if (!n || *n < min || *n > max) {
    report_bad_value(key, expected, v->text);
    return false;
  }
  out = *n;
  return true;
}

bool Section::read_double(std::string_view key, double& out, double min, double max) {
  std::ostringstream expected_text;
  expected_text << "a number between " << min << " and " << max;
  const std::string expected = expected_text.str();
  auto v = scalar(key, expected);
  if (!v) return false;
  const std::string& text = v->text;
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !(value >= min) ||
      !(value <= max)) {
    report_bad_value(key, expected, text);
    return false;
  }
  out = value;
  return true;
}

bool Section::read_bool(std::string_view key, bool& out) {
  auto v = scalar(key, "true or false");
  if (!v) return false;
  const auto b = parse_bool(v->text);
  if (!b) {
    report_bad_value(key, "true or false", v->text);
    return false;
  }
  out = *b;
  return true;
}

bool Section::read_milliseconds(std::string_view key, std::chrono::milliseconds& out,
                                std::uint64_t min, std::uint64_t max) {
  const std::string expected =
      "a number of milliseconds between " + std::to_string(min) + " and " + std::to_string(max);
  auto v = scalar(key, expected);
  if (!v) return false;
  const auto n = parse_unsigned(v->text);
  if (!n || *n < min || *n > max) {
    report_bad_value(key, expected, v->text);
    return false;
  }
  out = std::chrono::milliseconds(static_cast<std::chrono::milliseconds::rep>(*n));
  return true;
}

bool Section::read_byte_size(std::string_view key, std::size_t& out, std::uint64_t min,
                             std::uint64_t max) {
  const std::string expected = "a size between " + std::to_string(min) + " and " +
                               std::to_string(max) + " bytes (units kB, MB, GB allowed)";
  auto v = scalar(key, expected);
  if (!v) return false;
  const auto n = parse_byte_size(v->text);
  if (!n || *n < min || *n > max) {
    report_bad_value(key, expected, v->text);
    return false;
  }
  out = static_cast<std::size_t>(*n);
  return true;
}

std::vector<YAML::Node> Section::read_list(std::string_view key) {
  std::vector<YAML::Node> out;
  const YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return out;
  if (!n.IsSequence()) {
    error(key, "expected a list, got " + std::string(describe_node(n)));
    return out;
  }
  for (const auto& element : n) out.push_back(element);
  return out;
}

bool Section::read_string_list(std::string_view key, std::vector<std::string>& out) {
  const YAML::Node n = get(key);
  if (!n.IsDefined() || n.IsNull()) return false;
  const std::vector<YAML::Node> elements = read_list(key);
  if (!n.IsSequence()) return false;
  const std::string path = key_path(key);
  bool ok = true;
  std::vector<std::string> values;
  for (std::size_t i = 0; i < elements.size(); ++i) {
    const std::string element_path = index_path(path, i);
    if (!elements[i].IsScalar()) {
      ctx_.diag.error(element_path,
                      "expected a string, got " + std::string(describe_node(elements[i])));
      ok = false;
      continue;
    }
    ExpandResult expanded = expand_env(elements[i].Scalar(), ctx_.env);
    if (!expanded.error.empty()) {
      ctx_.diag.error(element_path, expanded.error);
      ok = false;
      continue;
    }
    values.push_back(std::move(expanded.value));
  }
  if (ok) out = std::move(values);
  return ok;
}

bool Section::read_secret(std::string_view value_key, std::string_view file_key, std::string& out) {
  const bool has_value = has(value_key);
  const bool has_file = has(file_key);
  if (has_value && has_file) {
    error(file_key, std::string(value_key) + " and " + std::string(file_key) +
                        " are both set; give only one");
    return false;
  }
  if (has_value) {
    auto v = scalar(value_key, "a string");
    if (!v) return false;
    // A SCRAM verifier is not the password itself, so keeping it in the file is acceptable.
    if (!v->from_environment && !v->text.empty() && v->text.rfind("SCRAM-SHA-256$", 0) != 0) {
      ctx_.diag.warning(key_path(value_key),
                        "secret written literally in the config file; prefer ${ENV_VAR} or " +
                            std::string(file_key));
    }
    out = std::move(v->text);
    return true;
  }
  if (has_file) {
    std::string path;
    if (!read_path(file_key, path)) return false;
    SecretFile secret = read_secret_file(path);
    if (!secret.error.empty()) {
      error(file_key, secret.error);
      return false;
    }
    if (secret.readable_by_others) {
      ctx_.diag.warning(key_path(file_key),
                        path + " is readable by group or others; restrict it (chmod 600)");
    }
    out = std::move(secret.value);
    return true;
  }
  return false;
}

}  // namespace pgdual::config
