#pragma once
// ASCII case folding, as PostgreSQL folds unquoted identifiers and keywords: bytes outside A-Z
// are left alone whatever the locale.

#include <string>
#include <string_view>

namespace pgdual::text {

inline char ascii_lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

inline std::string ascii_lower(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = ascii_lower(c);
  return out;
}

inline std::string ascii_upper(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = c >= 'a' && c <= 'z' ? static_cast<char>(c - 'a' + 'A') : c;
  return out;
}

}  // namespace pgdual::text
