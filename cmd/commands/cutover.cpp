// `pgdual cutover check --config FILE [--database D[,E...]] [--format table|json]`: every
// criterion of the cutover gate with its measured value, threshold and source
// (cutover/gate.hpp, docs/cutover.md). Exit: 0 the gate passes, 1 a criterion fails, 2 a store
// could not be read or a malformed command line.

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"
#include "cutover/gate.hpp"
#include "text/json.hpp"

namespace pgdual::cmd {
namespace {

using text::json_string;

std::string report_json(const cutover::GateReport& report) {
  const auto strings = text::json_string_array;
  std::string out = "{\"ok\":" + std::string(report.ok() ? "true" : "false");
  if (!report.error.empty()) out += ",\"error\":" + json_string(report.error);
  out += ",\"databases\":" + strings(report.databases);
  out += ",\"instances\":" + strings(report.instances);
  out += ",\"failed\":" + strings(report.failed()) + ",\"criteria\":[";
  for (std::size_t i = 0; i < report.criteria.size(); ++i) {
    const auto& c = report.criteria[i];
    out += std::string(i ? "," : "") + "{\"name\":" + json_string(c.name) +
           ",\"database\":" + (c.database.empty() ? "null" : json_string(c.database)) +
           ",\"ok\":" + (c.ok ? "true" : "false") + ",\"measured\":" + json_string(c.measured) +
           ",\"threshold\":" + json_string(c.threshold) + ",\"source\":" + json_string(c.source) +
           "}";
  }
  return out + "]}\n";
}

void print_table(const cutover::GateReport& report) {
  std::printf("cutover gate for %zu database(s), %zu live pgdual instance(s)\n",
              report.databases.size(), report.instances.size());
  for (const auto& c : report.criteria) {
    const std::string scope = c.database.empty() ? "fleet" : c.database;
    std::printf("%-4s %-24s %-16s %s\n", c.ok ? "ok" : "FAIL", c.name.c_str(), scope.c_str(),
                c.measured.c_str());
    std::printf("     %-24s %-16s needs %s; from %s\n", "", "", c.threshold.c_str(),
                c.source.c_str());
  }
  if (!report.error.empty()) std::printf("error: %s\n", report.error.c_str());
  std::printf("%s\n", report.ok() ? "gate passes: cutover may proceed"
                                  : "gate fails: cutover would be refused");
}

}  // namespace

Exit cutover_check_command(Args words) {
  std::string path, databases, format = "table";
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", path) || args.value("--database", databases) ||
        args.value("--format", format)) {
      continue;
    }
    return unknown_argument(args.word());
  }
  if (path.empty()) {
    std::fprintf(stderr, "cutover check needs --config FILE\n");
    return 2;
  }
  if (format != "table" && format != "json") {
    std::fprintf(stderr, "--format: expected table or json\n");
    return 2;
  }
  auto loaded = config::load_config_file(path);
  if (!loaded.ok()) return print_config_errors(loaded.errors, path);
  std::vector<std::string> names;
  for (std::size_t start = 0; start < databases.size();) {
    const auto comma = std::min(databases.find(',', start), databases.size());
    if (comma > start) names.push_back(databases.substr(start, comma - start));
    start = comma + 1;
  }
  const auto report = cutover::evaluate_gate(*loaded.config, names, {});
  if (format == "json") {
    std::fputs(report_json(report).c_str(), stdout);
  } else {
    print_table(report);
  }
  if (!report.error.empty()) return 2;
  return report.ok() ? 0 : 1;
}

}  // namespace pgdual::cmd
