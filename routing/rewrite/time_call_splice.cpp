#include "routing/rewrite/time_call_splice.hpp"

#include <cctype>
#include <vector>

#include "routing/classify/literal_key.hpp"

namespace pgdual::routing {

namespace {

struct CallInText {
  std::size_t begin = 0, end = 0;
  std::string_view name;  // lower case, as RewriteSite::function (one of the names below)
};

// The keyword forms (SQLValueFunction): no parentheses unless a precision follows.
constexpr std::string_view kTimeKeywords[] = {"current_timestamp", "current_date", "current_time",
                                              "localtimestamp", "localtime"};
// The function forms: name().
constexpr std::string_view kTimeFunctions[] = {"now", "transaction_timestamp",
                                               "statement_timestamp", "clock_timestamp"};
constexpr std::size_t kLongestName = 21;  // transaction_timestamp

// `word` (lower case) among `names`: the name itself (a view of a constant), else empty.
template <std::size_t N>
std::string_view find_name(std::string_view word, const std::string_view (&names)[N]) {
  for (const auto name : names) {
    if (word == name) return name;
  }
  return {};
}

bool word_start(unsigned char c) { return std::isalpha(c) || c == '_' || c >= 0x80; }

std::size_t skip_spaces(std::string_view sql, std::size_t at) {
  while (at < sql.size() && std::isspace(static_cast<unsigned char>(sql[at]))) ++at;
  return at;
}

// Past a quoted run that starts at `at` (the opening quote) and ends with `quote`, a doubled
// quote standing for one. npos when it does not end.
std::size_t skip_quoted(std::string_view sql, std::size_t at, char quote) {
  for (std::size_t i = at + 1; i < sql.size(); ++i) {
    if (sql[i] != quote) continue;
    if (i + 1 < sql.size() && sql[i + 1] == quote) {
      ++i;
      continue;
    }
    return i + 1;
  }
  return std::string_view::npos;
}

// Past a dollar-quoted string starting at `at` ('$'), or `at` itself when `$` starts none.
// npos when it does not end.
std::size_t skip_dollar_quoted(std::string_view sql, std::size_t at) {
  const std::size_t tag = detail::dollar_tag_length(sql, at);
  if (tag == 0) return at;
  const std::size_t close = sql.find(sql.substr(at, tag), at + tag);
  return close == std::string_view::npos ? close : close + tag;
}

// Past a block comment (they nest) starting at `at`. npos when it does not end.
std::size_t skip_block_comment(std::string_view sql, std::size_t at) {
  int depth = 0;
  for (std::size_t i = at; i + 1 < sql.size(); ++i) {
    if (sql[i] == '/' && sql[i + 1] == '*') {
      ++depth;
      ++i;
    } else if (sql[i] == '*' && sql[i + 1] == '/') {
      ++i;
      if (--depth == 0) return i + 1;
    }
  }
  return std::string_view::npos;
}

// Every clock call in `sql`, in text order; nullopt where the text cannot be read with
// certainty (an unterminated quote or comment, a qualified or parenthesised keyword).
std::optional<std::vector<CallInText>> find_time_calls(std::string_view sql) {
  std::vector<CallInText> calls;
  char previous = ' ';  // the last character of the last token (comments and spaces skipped)
  std::size_t i = 0;
  while (i < sql.size()) {
    const char c = sql[i];
    std::size_t next = i + 1;
    bool token = true;  // false for comments and spaces, which leave `previous` as it is
    if (c == '\'' || c == '"') {
      next = skip_quoted(sql, i, c);
      // A quoted name can call the clock too ("now"()): such a text is left to the full
      // rewrite rather than counted.
      if (c == '"' && next != std::string_view::npos) {
        const std::string_view name = sql.substr(i + 1, next - i - 2);
        if (!find_name(name, kTimeFunctions).empty() || !find_name(name, kTimeKeywords).empty()) {
          return std::nullopt;
        }
      }
    } else if (c == '$') {
      if (i + 1 < sql.size() && std::isdigit(static_cast<unsigned char>(sql[i + 1]))) {
        next = i + 1;  // a parameter; its digits are skipped as they come
      } else {
        next = skip_dollar_quoted(sql, i);
        if (next == i) next = i + 1;
      }
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      token = false;
    } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
      token = false;
      // A line comment ends at a newline or a carriage return, as in PostgreSQL's lexer.
      next = sql.find_first_of("\r\n", i);
      if (next == std::string_view::npos) next = sql.size();
    } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
      token = false;
      next = skip_block_comment(sql, i);
    } else if (word_start(static_cast<unsigned char>(c))) {
      next = i;
      while (next < sql.size() && detail::is_identifier_char(sql[next])) ++next;
      // Lower-cased on the stack: every word of the text passes here.
      char lower[kLongestName];
      std::string_view keyword, function;
      if (next - i <= kLongestName) {
        for (std::size_t k = i; k < next; ++k) {
          lower[k - i] = static_cast<char>(std::tolower(static_cast<unsigned char>(sql[k])));
        }
        const std::string_view word(lower, next - i);
        keyword = find_name(word, kTimeKeywords);
        function = find_name(word, kTimeFunctions);
      }
      if (!keyword.empty() || !function.empty()) {
        // After a dot (spaces and comments between or not): a qualified name
        // (pg_catalog.now()), left to the full rewrite.
        if (previous == '.') return std::nullopt;
        const std::size_t after = skip_spaces(sql, next);
        // A comment between the name and what follows: not read here.
        if (sql.substr(after, 2) == "/*" || sql.substr(after, 2) == "--") return std::nullopt;
        const bool paren = after < sql.size() && sql[after] == '(';
        if (!keyword.empty()) {
          if (paren) return std::nullopt;  // a precision: CURRENT_TIMESTAMP(3)
          calls.push_back({i, next, keyword});
        } else if (paren) {
          const std::size_t close = skip_spaces(sql, after + 1);
          if (close >= sql.size() || sql[close] != ')') return std::nullopt;  // arguments
          calls.push_back({i, close + 1, function});
          next = close + 1;
        }
        // A function name without parentheses is a column or the like: not a call.
      }
    } else if (std::isdigit(static_cast<unsigned char>(c))) {
      while (next < sql.size() && detail::is_identifier_char(sql[next])) ++next;
    }
    if (next == std::string_view::npos) return std::nullopt;
    if (token) previous = sql[next - 1];
    i = next;
  }
  return calls;
}

struct Replacement {
  std::string_view name;  // RewriteSite::function
  std::size_t value_index = 0;
  TimeType type = TimeType::timestamptz;
  std::size_t expected = 0;  // sites of this function
  std::size_t found = 0;     // calls found in the text
};

// The casts as the deparser writes the pipeline's own (routing/rewrite/pipeline.cpp,
// time_literal): keyword type names, and date qualified, since it is no keyword and a
// search_path could hold another type of that name.
const char* cast_suffix(TimeType type) {
  switch (type) {
    case TimeType::timestamp:
      return "::timestamp";
    case TimeType::date:
      return "::pg_catalog.date";
    case TimeType::timetz:
      return "::time with time zone";
    case TimeType::time:
      return "::time";
    case TimeType::timestamptz:
      break;
  }
  return "";
}

}  // namespace

std::optional<std::string> splice_time_calls(std::string_view sql, const RewriteAnalysis& analysis,
                                             const RewriteValues& values) {
  if (!analysis.parsed || analysis.statements.size() != 1 || values.parameter_base != 0 ||
      analysis.random_count != 0 || analysis.uuid_count != 0 || !analysis.sequences.empty()) {
    return std::nullopt;
  }
  // A backslash may escape a quote (E'...', or standard_conforming_strings off): the lexer
  // does not follow the session's setting, so it does not read such a text at all.
  if (sql.find('\\') != std::string_view::npos) return std::nullopt;
  // The values come from the primary as ISO timestamps; anything a quote or a backslash could
  // break out of is left to the deparser, which quotes it.
  for (const auto& timestamp : values.timestamps) {
    if (timestamp.empty() ||
        timestamp.find_first_of(std::string_view("'\\\0", 3)) != std::string::npos) {
      return std::nullopt;
    }
  }
  const StatementSites& statement = analysis.statements.front();
  if (!statement.unrewritable.empty() || statement.sites.empty()) return std::nullopt;
  // One entry per function name: a statement names a handful at most.
  std::vector<Replacement> by_name;
  const auto entry_for = [&by_name](std::string_view name) -> Replacement* {
    for (auto& entry : by_name) {
      if (entry.name == name) return &entry;
    }
    return nullptr;
  };
  for (const auto& site : statement.sites) {
    if (site.kind != SiteKind::time || site.is_column_default() || site.precision >= 0 ||
        site.value_index >= values.timestamps.size()) {
      return std::nullopt;
    }
    Replacement* entry = entry_for(site.function);
    if (entry == nullptr) {
      entry = &by_name.emplace_back(Replacement{site.function, site.value_index, site.time_type});
    }
    // One function name, one value and one type, whatever the order of its sites.
    if (entry->value_index != site.value_index || entry->type != site.time_type) {
      return std::nullopt;
    }
    ++entry->expected;
  }
  const auto calls = find_time_calls(sql);
  if (!calls || calls->size() != statement.sites.size()) return std::nullopt;
  for (const auto& call : *calls) {
    Replacement* entry = entry_for(call.name);
    if (entry == nullptr) return std::nullopt;
    ++entry->found;
  }
  for (const auto& entry : by_name) {
    if (entry.found != entry.expected) return std::nullopt;
  }
  std::string out;
  out.reserve(sql.size() + calls->size() * 48);
  std::size_t copied = 0;
  for (const auto& call : *calls) {
    const Replacement& replacement = *entry_for(call.name);
    out.append(sql, copied, call.begin - copied);
    // A space where the literal would otherwise run into a neighbouring word or prefix
    // (`U&now()`, `now()AND x`): the deparser separates every token, the splice must too.
    if (call.begin > 0 &&
        (detail::is_identifier_char(sql[call.begin - 1]) || sql[call.begin - 1] == '&')) {
      out += ' ';
    }
    // The pipeline's literal: a timestamptz cast to the site's type. A cast binds tighter than
    // any operator, so it stands wherever the call stood, as the deparser writes it there.
    out += '\'';
    out += values.timestamps[replacement.value_index];
    out += "'::timestamp with time zone";
    out += cast_suffix(replacement.type);
    if (call.end < sql.size() && detail::is_identifier_char(sql[call.end])) out += ' ';
    copied = call.end;
  }
  out.append(sql, copied);
  return out;
}

}  // namespace pgdual::routing
