#pragma once
// How many I/O threads `workers: 0` starts.
//
// The CPUs a process may use are fewer than the machine's cores in a container: its affinity
// mask and its cgroup's CPU quota (a Kubernetes CPU limit) both bound them, and
// std::thread::hardware_concurrency() sees neither. And a sidecar shares those CPUs with the
// application and, in a test or a small set-up, with the database: a worker per CPU then
// makes each worker sleep and wake more often than it works (measured in bench/: on 2 CPUs,
// one worker costs about a quarter less CPU per transaction than two and relays more; see
// docs/performance.md). So the default is half of the usable CPUs, at least one.

#include <optional>
#include <string_view>

namespace pgdual::proxy {

// The CPU limit in a cgroup v2 `cpu.max` file ("QUOTA PERIOD", or "max PERIOD" for none), in
// CPUs; nullopt for no limit or unreadable text.
std::optional<double> cpu_limit_from_cpu_max(std::string_view text);

// CPUs this process may run on: its affinity mask, bounded by its cgroup's quota (v2: the
// lowest cpu.max from its own cgroup up; v1: cfs_quota_us / cfs_period_us), rounded up; at
// least 1.
unsigned usable_cpus();

// The default worker count for `usable` CPUs: half, at least one.
unsigned default_workers(unsigned usable);

}  // namespace pgdual::proxy
