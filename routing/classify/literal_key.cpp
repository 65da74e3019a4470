#include "routing/classify/literal_key.hpp"

#include <cctype>

namespace pgdual::routing {

namespace detail {

bool is_identifier_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '$' ||
         static_cast<unsigned char>(c) >= 0x80;
}

std::size_t end_of_string(std::string_view sql, std::size_t quote, bool backslash_escapes) {
  for (std::size_t i = quote + 1; i < sql.size(); ++i) {
    if (backslash_escapes && sql[i] == '\\') {
      ++i;
    } else if (sql[i] == '\'') {
      if (i + 1 < sql.size() && sql[i + 1] == '\'') {
        ++i;  // '' inside a string
      } else {
        return i + 1;
      }
    }
  }
  return sql.size();
}

std::size_t dollar_tag_length(std::string_view sql, std::size_t start) {
  // PostgreSQL's lexer: a tag is letters (non-ASCII bytes included), digits and '_', not
  // starting with a digit.
  std::size_t i = start + 1;
  while (i < sql.size() && (std::isalnum(static_cast<unsigned char>(sql[i])) || sql[i] == '_' ||
                            static_cast<unsigned char>(sql[i]) >= 0x80)) {
    if (i == start + 1 && std::isdigit(static_cast<unsigned char>(sql[i]))) return 0;  // $1
    ++i;
  }
  return i < sql.size() && sql[i] == '$' ? i - start + 1 : 0;
}

}  // namespace detail

using detail::dollar_tag_length;
using detail::end_of_string;
using detail::is_identifier_char;

std::string literal_key(std::string_view sql) {
  std::string key;
  key.reserve(sql.size());
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    const bool after_identifier = i > 0 && is_identifier_char(sql[i - 1]);
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const auto end = sql.find('\n', i);
      const auto stop = end == std::string_view::npos ? sql.size() : end;
      key.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '"') {
      // Quoted identifiers are names, not values: kept.
      auto end = sql.find('"', i + 1);
      while (end != std::string_view::npos && end + 1 < sql.size() && sql[end + 1] == '"') {
        end = sql.find('"', end + 2);
      }
      const auto stop = end == std::string_view::npos ? sql.size() : end + 1;
      key.append(sql.substr(i, stop - i));
      i = stop;
    } else if (c == '\'') {
      const bool escapes = i > 0 && (sql[i - 1] == 'e' || sql[i - 1] == 'E') &&
                           !(i > 1 && is_identifier_char(sql[i - 2]));
      key.push_back('?');
      i = end_of_string(sql, i, escapes);
    } else if (c == '$' && !after_identifier) {
      const std::size_t tag = dollar_tag_length(sql, i);
      if (tag == 0) {
        key.push_back(c);  // a parameter such as $1
        ++i;
        continue;
      }
      const auto close = sql.find(sql.substr(i, tag), i + tag);
      key.push_back('?');
      i = close == std::string_view::npos ? sql.size() : close + tag;
    } else if (std::isdigit(static_cast<unsigned char>(c)) && !after_identifier) {
      // A number: digits, a decimal point, an exponent.
      while (i < sql.size() &&
             (std::isdigit(static_cast<unsigned char>(sql[i])) || sql[i] == '.' || sql[i] == 'e' ||
              sql[i] == 'E' ||
              ((sql[i] == '+' || sql[i] == '-') && (sql[i - 1] == 'e' || sql[i - 1] == 'E')))) {
        ++i;
      }
      key.push_back('?');
    } else {
      key.push_back(c);
      ++i;
    }
  }
  return key;
}

}  // namespace pgdual::routing
