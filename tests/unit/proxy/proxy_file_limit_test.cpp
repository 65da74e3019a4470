// Tests of proxy/server/file_limit.hpp: the descriptors sessions need, and raising the soft
// open-file limit towards the hard one (on this process, restored afterwards).

#include <sys/resource.h>

#include <catch2/catch.hpp>

#include "proxy/server/file_limit.hpp"

using namespace pgdual::proxy;

TEST_CASE("sessions need a client and two backend descriptors each, plus the process's own",
          "[file_limit]") {
  CHECK(descriptors_needed(0) == 256);
  CHECK(descriptors_needed(1000) == 3256);
}

TEST_CASE("the soft open-file limit is raised as far as wanted and allowed", "[file_limit]") {
  rlimit original{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &original) == 0);
  if (original.rlim_max != RLIM_INFINITY && original.rlim_max < 2048) {
    WARN("hard limit " << original.rlim_max << " too low to test raising");
    return;
  }
  rlimit lowered = original;
  lowered.rlim_cur = 512;
  REQUIRE(setrlimit(RLIMIT_NOFILE, &lowered) == 0);

  const FileLimit raised = raise_file_limit(2000);
  CHECK(raised.before == 512);
  CHECK(raised.now == 2000);
  rlimit after{};
  REQUIRE(getrlimit(RLIMIT_NOFILE, &after) == 0);
  CHECK(after.rlim_cur == 2000);

  // Already enough: left as it is.
  const FileLimit unchanged = raise_file_limit(1000);
  CHECK(unchanged.before == 2000);
  CHECK(unchanged.now == 2000);

  // More than the hard limit: as far as the hard limit.
  if (original.rlim_max != RLIM_INFINITY) {
    const FileLimit capped = raise_file_limit(original.rlim_max + 1000);
    CHECK(capped.now == original.rlim_max);
  }
  REQUIRE(setrlimit(RLIMIT_NOFILE, &original) == 0);
}
