#include "routing/rewrite/policy_error.hpp"

namespace pgdual::routing {

std::string policy_error_statement(std::string_view reason) {
  std::string escaped;
  for (char c : reason) {
    escaped.push_back(c);
    if (c == '\'') escaped.push_back('\'');
  }
  return "DO $pgdual$BEGIN RAISE EXCEPTION USING ERRCODE = '0A000', MESSAGE = 'pgdual: " + escaped +
         "'; END$pgdual$";
}

}  // namespace pgdual::routing
