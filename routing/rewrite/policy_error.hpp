#pragma once
// A statement that makes PostgreSQL itself raise a pgdual policy error
// (SQLSTATE 0A000, feature_not_supported), sent in place of the refused
// statement, so the client receives the error in protocol order like any
// server error.

#include <string>
#include <string_view>

namespace pgdual::routing {

std::string policy_error_statement(std::string_view reason);

}  // namespace pgdual::routing
