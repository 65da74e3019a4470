#pragma once
// A row of cmd/main.cpp's table of subcommands, and what the table does with its rows: find
// the one a command line names and print the usage.

#include <cstddef>
#include <span>
#include <string>
#include <string_view>

#include "cmd/commands/command.hpp"

namespace pgdual::cmd {

struct Subcommand {
  std::string_view name;      // the words that select it, e.g. "sequences sync"
  std::string_view synopsis;  // its arguments, as the usage shows them
  std::string_view summary;   // one line for the usage
  Handler handler;
  bool listed = true;  // false: an alias the usage does not show
};

// How many leading words of `words` spell `name` ("journal status" spells two); 0 if they don't.
std::size_t words_naming(const Subcommand& command, std::span<const std::string> words);

// "usage:", a line per listed subcommand with its summary, then `footer`.
std::string usage(std::span<const Subcommand> commands, std::string_view footer);

}  // namespace pgdual::cmd
