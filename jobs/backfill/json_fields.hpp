#pragma once
// Members of the JSON objects the jobs print at the end of a run (backfill, reconcile): the
// separator before each member decided from what `out` ends with, strings escaped by text/json.

#include <cstdint>
#include <string>
#include <vector>

namespace pgdual::jobs::backfill {

void json_key(std::string& out, const char* name);
void json_field(std::string& out, const char* name, const std::string& value);
void json_field(std::string& out, const char* name, double value);  // three decimals
void json_field(std::string& out, const char* name, std::int64_t value);
void json_field(std::string& out, const char* name, bool value);
void json_string_list(std::string& out, const char* name, const std::vector<std::string>& values);

}  // namespace pgdual::jobs::backfill
