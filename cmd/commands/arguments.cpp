#include "cmd/commands/arguments.hpp"

#include <cstdio>

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

}  // namespace pgdual::cmd
