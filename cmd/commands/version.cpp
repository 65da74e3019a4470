// `pgdual --version` (also `pgdual version`); words after it are ignored.

#include <cstdio>

#include "cmd/commands/commands.hpp"

namespace pgdual::cmd {

Exit version_command(Args) {
  std::printf("pgdual %s\n", PGDUAL_VERSION);
  return 0;
}

}  // namespace pgdual::cmd
