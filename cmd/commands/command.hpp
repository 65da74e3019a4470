#pragma once
// What every subcommand of the pgdual binary shares: the words it is handed and what it hands
// back. cmd/main.cpp holds the table that names each subcommand and dispatches to it.

#include <span>
#include <string>

namespace pgdual::cmd {

// The words after the subcommand's name: for `pgdual journal status --config F` that is
// {"--config", "F"}.
using Args = std::span<const std::string>;

// A subcommand's exit code, and whether main should print the usage (to stderr) after whatever
// the subcommand printed, because the command line itself was malformed.
struct Exit {
  // Implicit, so a handler may return a plain exit code.
  Exit(int exit_code) : code(exit_code) {}
  static Exit usage_error() {
    Exit exit(2);
    exit.print_usage = true;
    return exit;
  }

  int code;
  bool print_usage = false;
};

using Handler = Exit (*)(Args);

}  // namespace pgdual::cmd
