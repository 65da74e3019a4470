// Tests of proxy/server/worker_count.hpp: the cgroup v2 cpu.max text, the default worker
// count, and that this machine's usable CPUs are within its affinity mask.

#include <sched.h>

#include <catch2/catch.hpp>

#include "proxy/server/worker_count.hpp"

using namespace pgdual::proxy;

TEST_CASE("cpu.max gives the CPU limit, or none", "[worker_count]") {
  CHECK(cpu_limit_from_cpu_max("max 100000\n") == std::nullopt);
  CHECK(cpu_limit_from_cpu_max("150000 100000\n") == Approx(1.5));
  CHECK(cpu_limit_from_cpu_max("50000 100000") == Approx(0.5));
  CHECK(cpu_limit_from_cpu_max("") == std::nullopt);
  CHECK(cpu_limit_from_cpu_max("abc 100000") == std::nullopt);
  CHECK(cpu_limit_from_cpu_max("100000 0") == std::nullopt);
  CHECK(cpu_limit_from_cpu_max("-1 100000") == std::nullopt);
}

TEST_CASE("the default is half the usable CPUs, at least one", "[worker_count]") {
  CHECK(default_workers(1) == 1);
  CHECK(default_workers(2) == 1);
  CHECK(default_workers(3) == 1);
  CHECK(default_workers(4) == 2);
  CHECK(default_workers(16) == 8);
}

TEST_CASE("usable CPUs are at least one and at most the affinity mask", "[worker_count]") {
  cpu_set_t set;
  CPU_ZERO(&set);
  REQUIRE(sched_getaffinity(0, sizeof(set), &set) == 0);
  const unsigned usable = usable_cpus();
  CHECK(usable >= 1);
  CHECK(usable <= static_cast<unsigned>(CPU_COUNT(&set)));
}
