#include "text/sql_quote.hpp"

#include <algorithm>

namespace pgdual::text {
namespace {

std::string without_nul(std::string_view text) {
  std::string out(text);
  out.erase(std::remove(out.begin(), out.end(), '\0'), out.end());
  return out;
}

}  // namespace

std::string quote_identifier(std::string_view name) {
  std::string out = "\"";
  for (char c : without_nul(name)) {
    if (c == '"') out += '"';
    out += c;
  }
  return out + "\"";
}

std::string quote_qualified(std::string_view qualified) {
  const auto dot = qualified.find('.');
  if (dot == std::string_view::npos) return "\"public\"." + quote_identifier(qualified);
  return quote_identifier(qualified.substr(0, dot)) + "." +
         quote_identifier(qualified.substr(dot + 1));
}

std::string quote_literal(std::string_view text) {
  const std::string clean = without_nul(text);
  const bool has_backslash = clean.find('\\') != std::string::npos;
  std::string out = has_backslash ? "E'" : "'";
  for (char c : clean) {
    if (c == '\'' || (c == '\\' && has_backslash)) out += c;
    out += c;
  }
  return out + "'";
}

}  // namespace pgdual::text
