#pragma once
// Reading a subcommand's options (`--flag`, `--name VALUE`) in any order. One place for it, so
// every subcommand treats a missing value and an unknown word the same way.

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "cmd/commands/command.hpp"

namespace pgdual::cmd {

// Walks the words one option at a time:
//   for (ArgCursor args(words); !args.done();) {
//     if (args.flag("--dry-run")) ...
//     else if (args.value("--config", path)) ...
//     else return unknown_argument(args.word());
//   }
class ArgCursor {
 public:
  explicit ArgCursor(Args args) : args_(args) {}

  bool done() const { return at_ >= args_.size(); }
  // The word at the cursor; only when !done().
  const std::string& word() const { return args_[at_]; }
  // Consumes the word when it is `name`.
  bool flag(std::string_view name);
  // Consumes `name VALUE` into `value`. A `name` with no word after it is not consumed, so it
  // ends up reported as an unknown argument.
  bool value(std::string_view name, std::string& value);

 private:
  Args args_;
  std::size_t at_ = 0;
};

// --tables "a, b" -> {public.a, public.b}; a comma inside double quotes belongs to the name
// ("a,b" names one table), as does "" (one quote).
std::vector<std::string> split_tables(const std::string& list);

// A positive number, or -1.
double positive_number(const std::string& text);

// Prints "unknown argument WORD" to stderr; main then prints the usage and exits 2.
Exit unknown_argument(const std::string& word);

}  // namespace pgdual::cmd
