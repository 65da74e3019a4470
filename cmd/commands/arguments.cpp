#include "cmd/commands/arguments.hpp"

#include <cstdio>

#include "routing/phase_rules.hpp"

namespace pgdual::cmd {

bool ArgCursor::flag(std::string_view name) {
  if (done() || word() != name) return false;
  ++at_;
  return true;
}

bool ArgCursor::value(std::string_view name, std::string& value) {
  if (at_ + 1 >= args_.size() || word() != name) return false;
  value = args_[at_ + 1];
  at_ += 2;
  return true;
}

Exit unknown_argument(const std::string& word) {
  std::fprintf(stderr, "unknown argument %s\n", word.c_str());
  return Exit::usage_error();
}

std::vector<std::string> split_tables(const std::string& list) {
  std::vector<std::string> tables;
  std::string current;
  bool quoted = false;
  const auto flush = [&] {
    const auto first = current.find_first_not_of(' ');
    if (first != std::string::npos) {
      const auto last = current.find_last_not_of(' ');
      tables.push_back(routing::normalize_table_name(current.substr(first, last - first + 1)));
    }
    current.clear();
  };
  for (const char c : list) {
    if (c == '"') quoted = !quoted;  // "" toggles twice: the name keeps both for normalising
    if (c == ',' && !quoted) {
      flush();
    } else {
      current += c;
    }
  }
  flush();
  return tables;
}

double positive_number(const std::string& text) {
  try {
    std::size_t used = 0;
    const double value = std::stod(text, &used);
    return used == text.size() && value > 0 ? value : -1;
  } catch (...) {
    return -1;
  }
}

}  // namespace pgdual::cmd
