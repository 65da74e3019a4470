#pragma once
// The admin console's language (docs/operations.md): one command per query, PgBouncer-style,
// case-insensitive, an optional trailing semicolon. SHOW commands answer with a result set built
// from the status report (proxy/admin/status/status_report.hpp), so they agree with /status.
// Pure: parsing and result sets, no I/O.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.hpp"
#include "proxy/admin/status/status_report.hpp"

namespace pgdual::proxy::console {

enum class Verb { empty, show, set, reload, pause, resume };

struct Command {
  Verb verb = Verb::empty;
  std::string object;  // SHOW's object, upper case: PHASES, STATS, ...
};

struct ConsoleError {
  std::string sqlstate;
  std::string message;
  std::string hint;
};

// The command, or the error to answer (42601 for text that is not one command).
std::optional<Command> parse_command(std::string_view query, ConsoleError& error);

struct ResultSet {
  std::vector<std::string> columns;  // every column is text
  std::vector<std::vector<std::optional<std::string>>> rows;
};

// The objects SHOW knows, in the order SHOW HELP lists them.
const std::vector<std::string>& show_objects();

// The result of SHOW `object`; nullopt for an object SHOW does not know (42704).
std::optional<ResultSet> show(std::string_view object, const status::StatusReport& report,
                              const config::Config& config);

// RowDescription (text columns), the DataRows and CommandComplete "SHOW".
void append_result_set(std::string& out, const ResultSet& result);

}  // namespace pgdual::proxy::console
