#include "config/env_expand.hpp"

#include <cstdlib>

namespace pgdual::config {
namespace {

bool is_name_start(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; }

bool is_name_char(char c) { return is_name_start(c) || (c >= '0' && c <= '9'); }

bool valid_name(std::string_view name) {
  if (name.empty() || !is_name_start(name.front())) return false;
  for (char c : name) {
    if (!is_name_char(c)) return false;
  }
  return true;
}

}  // namespace

EnvLookup process_environment() {
  return [](std::string_view name) -> std::optional<std::string> {
    const std::string key(name);
    const char* value = std::getenv(key.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

ExpandResult expand_env(std::string_view text, const EnvLookup& lookup) {
  ExpandResult result;
  std::string& out = result.value;
  out.reserve(text.size());
  std::size_t i = 0;
  while (i < text.size()) {
    const char c = text[i];
    if (c != '$') {
      out += c;
      ++i;
      continue;
    }
    // "$${" is the escape for a literal "${".
    if (text.substr(i, 3) == "$${") {
      out += "${";
      i += 3;
      continue;
    }
    if (text.substr(i, 2) != "${") {
      out += c;
      ++i;
      continue;
    }
    const std::size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      result.error = "unterminated \"${\" (write \"$${\" for a literal \"${\")";
      return result;
    }
    const std::string_view name = text.substr(i + 2, close - i - 2);
    if (!valid_name(name)) {
      // The text between the braces is not a variable name, so it may be anything the user
      // typed; it is not echoed in case it is a secret pasted in the wrong place.
      result.error =
          "invalid environment variable reference (expected ${NAME} with NAME made of letters, "
          "digits and '_', not starting with a digit)";
      return result;
    }
    std::optional<std::string> value = lookup(name);
    if (!value) {
      result.error = "environment variable " + std::string(name) + " is not set";
      return result;
    }
    out += *value;
    result.used_reference = true;
    i = close + 1;
  }
  return result;
}

}  // namespace pgdual::config
