#pragma once
// Open-file limit for the sessions pgdual admits.
//
// Every client session holds its own socket and one per backend its phase uses (two under
// dual_write), so limits.max_client_connections sessions need up to three descriptors each.
// A process often starts with a soft limit of 1024 (PAM, runuser, many container runtimes)
// under a much higher hard limit: pgdual raises the soft limit at start, as far as the sessions
// need and the hard limit allows, as a server that keeps thousands of sockets should, and warns
// when that is too few. (At start only: a reload that raises max_client_connections takes a
// restart to raise the limit with it.)

#include <cstddef>
#include <cstdint>

namespace pgdual::proxy {

struct FileLimit {
  bool known = false;        // getrlimit answered
  std::uint64_t before = 0;  // the soft limit pgdual started with
  std::uint64_t now = 0;     // the soft limit after raising it (as far as the hard limit)
};

// Raises the soft RLIMIT_NOFILE to `wanted`, or to the hard limit if that is lower.
FileLimit raise_file_limit(std::uint64_t wanted);

// Descriptors `max_client_connections` sessions may need, with room for the rest of the
// process (listeners, the admin server, libpq connections of the journal, cdc and gate).
std::uint64_t descriptors_needed(std::size_t max_client_connections);

}  // namespace pgdual::proxy
