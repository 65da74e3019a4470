#include "proxy/server/worker_count.hpp"

#include <sched.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>

namespace pgdual::proxy {

namespace {

std::string read_small_file(const char* path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::optional<long long> parse_integer(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) text.remove_suffix(1);
  long long value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (error != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return value;
}

// cgroup v1: cpu.cfs_quota_us is -1 without a limit.
std::optional<double> cpu_limit_v1() {
  const auto quota = parse_integer(read_small_file("/sys/fs/cgroup/cpu/cpu.cfs_quota_us"));
  const auto period = parse_integer(read_small_file("/sys/fs/cgroup/cpu/cpu.cfs_period_us"));
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

// cgroup v2: the lowest cpu.max on the path from this process's cgroup (/proc/self/cgroup,
// "0::/path") up to the root of the mounted hierarchy. Inside a private cgroup namespace the
// path is "/" and the root is the container's own cgroup.
std::optional<double> cpu_limit_v2() {
  std::ifstream in("/proc/self/cgroup");
  std::string line;
  std::string path;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) == 0) path = line.substr(3);
  }
  std::optional<double> lowest;
  for (std::string dir = path == "/" ? std::string() : path;;) {
    const std::string file = "/sys/fs/cgroup" + dir + "/cpu.max";
    const auto limit = cpu_limit_from_cpu_max(read_small_file(file.c_str()));
    if (limit && (!lowest || *limit < *lowest)) lowest = limit;
    if (dir.empty()) break;
    dir.resize(dir.rfind('/'));
  }
  return lowest;
}

unsigned affinity_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<unsigned>(count);
  }
  return std::max(1u, std::thread::hardware_concurrency());
}

}  // namespace

std::optional<double> cpu_limit_from_cpu_max(std::string_view text) {
  const auto space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view quota_text = text.substr(0, space);
  if (quota_text == "max") return std::nullopt;
  const auto quota = parse_integer(quota_text);
  const auto period = parse_integer(text.substr(space + 1));
  if (!quota || !period || *quota <= 0 || *period <= 0) return std::nullopt;
  return static_cast<double>(*quota) / static_cast<double>(*period);
}

unsigned usable_cpus() {
  unsigned cpus = affinity_cpus();
  auto limit = cpu_limit_v2();
  if (!limit) limit = cpu_limit_v1();
  if (limit) cpus = std::min(cpus, static_cast<unsigned>(std::max(1.0, std::ceil(*limit))));
  return std::max(1u, cpus);
}

unsigned default_workers(unsigned usable) { return std::max(1u, usable / 2); }

}  // namespace pgdual::proxy
