#include "cmd/subcommand.hpp"

#include <algorithm>

namespace pgdual::cmd {
namespace {

// Summaries start in this column, on the synopsis' line when it ends before, else on the next,
// and wrap at a word before kUsageWidth.
constexpr std::size_t kSummaryColumn = 33;
constexpr std::size_t kUsageWidth = 92;

// Splits off the text before the first space (all of `text` when there is none).
std::string_view next_word(std::string_view& text) {
  const std::size_t end = std::min(text.find(' '), text.size());
  const std::string_view word = text.substr(0, end);
  text.remove_prefix(std::min(end + 1, text.size()));
  return word;
}

void append_summary(std::string& out, std::string_view summary) {
  std::size_t column = kSummaryColumn;
  while (!summary.empty()) {
    const std::string_view word = next_word(summary);
    if (column > kSummaryColumn && column + 1 + word.size() > kUsageWidth) {
      out += '\n';
      out.append(kSummaryColumn, ' ');
      column = kSummaryColumn;
    } else if (column > kSummaryColumn) {
      out += ' ';
      ++column;
    }
    out += word;
    column += word.size();
  }
}

}  // namespace

std::size_t words_naming(const Subcommand& command, std::span<const std::string> words) {
  std::string_view name = command.name;
  std::size_t count = 0;
  while (!name.empty()) {
    if (count >= words.size() || words[count] != next_word(name)) return 0;
    ++count;
  }
  return count;
}

std::string usage(std::span<const Subcommand> commands, std::string_view footer) {
  std::string out = "usage:\n";
  for (const auto& command : commands) {
    if (!command.listed) continue;
    std::string line = "  pgdual " + std::string(command.name);
    if (!command.synopsis.empty()) line += " " + std::string(command.synopsis);
    if (line.size() + 2 <= kSummaryColumn) {
      line.resize(kSummaryColumn, ' ');
    } else {
      line += '\n';
      line.append(kSummaryColumn, ' ');
    }
    out += line;
    append_summary(out, command.summary);
    out += '\n';
  }
  out += footer;
  return out;
}

}  // namespace pgdual::cmd
