#include "routing/mapping/name_spans.hpp"

namespace pgdual::routing {
namespace {

bool identifier_char(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
         c == '$' || c >= 0x80;
}

bool blank(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

// The end of the identifier starting at `at`, or npos.
std::size_t identifier_end(std::string_view sql, std::size_t at) {
  if (at >= sql.size()) return std::string_view::npos;
  if (sql[at] == '"') {
    for (std::size_t i = at + 1; i < sql.size(); ++i) {
      if (sql[i] != '"') continue;
      if (i + 1 < sql.size() && sql[i + 1] == '"') {
        ++i;  // "" inside quotes
        continue;
      }
      return i + 1 > at + 2 ? i + 1 : std::string_view::npos;  // "" is no identifier
    }
    return std::string_view::npos;
  }
  const auto first = static_cast<unsigned char>(sql[at]);
  if (!identifier_char(first) || (first >= '0' && first <= '9')) return std::string_view::npos;
  std::size_t i = at;
  while (i < sql.size() && identifier_char(static_cast<unsigned char>(sql[i]))) ++i;
  if (i < sql.size() && sql[i] == '&') return std::string_view::npos;  // U&"..."
  return i;
}

}  // namespace

std::vector<std::pair<std::size_t, std::size_t>> name_parts_at(std::string_view sql,
                                                               std::size_t location,
                                                               std::size_t parts) {
  std::vector<std::pair<std::size_t, std::size_t>> spans;
  std::size_t at = location;
  for (std::size_t part = 0; part < parts; ++part) {
    if (part > 0) {
      while (at < sql.size() && blank(sql[at])) ++at;
      if (at >= sql.size() || sql[at] != '.') return {};
      ++at;
      while (at < sql.size() && blank(sql[at])) ++at;
    }
    const std::size_t end = identifier_end(sql, at);
    if (end == std::string_view::npos) return {};
    spans.emplace_back(at, end);
    at = end;
  }
  return spans;
}

std::string identifier_value(std::string_view part) {
  std::string value;
  if (!part.empty() && part.front() == '"') {
    for (std::size_t i = 1; i + 1 < part.size(); ++i) {
      value += part[i];
      if (part[i] == '"') ++i;  // "" stands for one quote
    }
    return value;
  }
  for (char c : part) value += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
  return value;
}

}  // namespace pgdual::routing
