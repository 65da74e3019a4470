#include "routing/rewrite/input_time_literals.hpp"

#include <array>
#include <cctype>

#include "routing/classify/literal_key.hpp"
#include "text/ascii.hpp"

namespace pgdual::routing {
namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool is_clock_word(std::string_view word) {
  static constexpr std::array<std::string_view, 4> kWords = {"now", "today", "tomorrow",
                                                             "yesterday"};
  if (word.size() < 3 || word.size() > 9) return false;
  const std::string lowered = text::ascii_lower(word);
  for (std::string_view clock : kWords) {
    if (lowered == clock) return true;
  }
  return false;
}

// The end of a /* */ comment starting at `start`; they nest.
std::size_t end_of_block_comment(std::string_view sql, std::size_t start) {
  int depth = 0;
  std::size_t i = start;
  while (i + 1 < sql.size()) {
    if (sql[i] == '/' && sql[i + 1] == '*') {
      ++depth;
      i += 2;
    } else if (sql[i] == '*' && sql[i + 1] == '/') {
      i += 2;
      if (--depth == 0) return i;
    } else {
      ++i;
    }
  }
  return sql.size();
}

// Whether another string constant follows after white space with a line break: the parser
// joins the two into one ('no'<newline>'w' is 'now').
bool continued(std::string_view sql, std::size_t end) {
  bool line_break = false;
  while (end < sql.size() && is_space(sql[end])) line_break |= sql[end++] == '\n';
  return line_break && end < sql.size() && sql[end] == '\'';
}

}  // namespace

bool is_input_time_literal(std::string_view value) {
  bool clock = false;
  std::size_t i = 0;
  while (i < value.size()) {
    while (i < value.size() && is_space(value[i])) ++i;
    const std::size_t start = i;
    while (i < value.size() && !is_space(value[i])) ++i;
    if (start == i) break;
    const std::string_view word = value.substr(start, i - start);
    if (is_clock_word(word)) {
      clock = true;
    } else if (!std::isdigit(static_cast<unsigned char>(word[0])) && word[0] != '+' &&
               word[0] != '-') {
      return false;  // ordinary text ('see you tomorrow')
    }
  }
  return clock;
}

bool may_hold_input_time_literal(std::string_view sql) {
  using detail::is_identifier_char;
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    const bool after_identifier = i > 0 && is_identifier_char(sql[i - 1]);
    if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      const auto end = sql.find('\n', i);
      i = end == std::string_view::npos ? sql.size() : end;
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      i = end_of_block_comment(sql, i);
    } else if (c == '"') {
      const auto end = sql.find('"', i + 1);  // "" inside: two names back to back, same effect
      i = end == std::string_view::npos ? sql.size() : end + 1;
    } else if (c == '\'') {
      const bool escapes = i > 0 && (sql[i - 1] == 'e' || sql[i - 1] == 'E') &&
                           !(i > 1 && is_identifier_char(sql[i - 2]));
      const bool unicode = i > 1 && sql[i - 1] == '&' && (sql[i - 2] == 'u' || sql[i - 2] == 'U');
      const std::size_t end = detail::end_of_string(sql, i, escapes);
      const std::size_t stop = end > i + 1 && sql[end - 1] == '\'' ? end - 1 : end;
      const std::string_view content = sql.substr(i + 1, stop - (i + 1));
      // Escapes (E'', U&'', or backslashes without standard_conforming_strings) may spell a
      // word the text does not show.
      if (unicode || content.find('\\') != std::string_view::npos) return true;
      if (is_input_time_literal(content) || continued(sql, end)) return true;
      i = end;
    } else if (c == '$' && !after_identifier && detail::dollar_tag_length(sql, i) > 0) {
      const std::size_t tag = detail::dollar_tag_length(sql, i);
      const auto close = sql.find(sql.substr(i, tag), i + tag);
      if (close == std::string_view::npos) return false;
      if (is_input_time_literal(sql.substr(i + tag, close - (i + tag)))) return true;
      i = close + tag;
    } else {
      ++i;
    }
  }
  return false;
}

}  // namespace pgdual::routing
