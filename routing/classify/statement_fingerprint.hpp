#pragma once
// A statement's identity for logs: libpg_query's fingerprint (equal for
// statements that differ only in literal values) and its normalised text
// (literals replaced by $n). Computed only on degraded paths (discrepancy
// records), never per statement.

#include <string>
#include <string_view>

namespace pgdual::routing {

struct StatementIdentity {
  std::string fingerprint;  // hex; empty when the text does not parse
  std::string normalized;   // the text itself when it does not parse
};

StatementIdentity identify_statement(std::string_view sql);

}  // namespace pgdual::routing
