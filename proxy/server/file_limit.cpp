#include "proxy/server/file_limit.hpp"

#include <sys/resource.h>

#include <algorithm>

namespace pgdual::proxy {

namespace {
constexpr std::uint64_t kPerSession = 3;    // the client, the old store, the new store
constexpr std::uint64_t kProcessOwn = 256;  // listeners, admin, libpq threads, files
}  // namespace

std::uint64_t descriptors_needed(std::size_t max_client_connections) {
  return static_cast<std::uint64_t>(max_client_connections) * kPerSession + kProcessOwn;
}

FileLimit raise_file_limit(std::uint64_t wanted) {
  FileLimit result;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return result;
  result.known = true;
  result.before = result.now = limit.rlim_cur;
  if (limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur >= wanted) return result;
  const rlim_t target = limit.rlim_max == RLIM_INFINITY
                            ? static_cast<rlim_t>(wanted)
                            : std::min<rlim_t>(limit.rlim_max, static_cast<rlim_t>(wanted));
  if (target <= limit.rlim_cur) return result;
  limit.rlim_cur = target;
  if (setrlimit(RLIMIT_NOFILE, &limit) == 0) result.now = target;
  return result;
}

}  // namespace pgdual::proxy
