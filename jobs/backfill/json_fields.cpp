#include "jobs/backfill/json_fields.hpp"

#include <cstdio>

#include "text/json.hpp"

namespace pgdual::jobs::backfill {

void json_key(std::string& out, const char* name) {
  if (!out.empty() && out.back() != '{' && out.back() != '[') out += ", ";
  text::append_json_string(out, name);
  out += ": ";
}

void json_field(std::string& out, const char* name, const std::string& value) {
  json_key(out, name);
  text::append_json_string(out, value);
}

void json_field(std::string& out, const char* name, double value) {
  json_key(out, name);
  char number[64];
  std::snprintf(number, sizeof number, "%.3f", value);
  out += number;
}

void json_field(std::string& out, const char* name, std::int64_t value) {
  json_key(out, name);
  out += std::to_string(value);
}

void json_field(std::string& out, const char* name, bool value) {
  json_key(out, name);
  out += value ? "true" : "false";
}

void json_string_list(std::string& out, const char* name, const std::vector<std::string>& values) {
  json_key(out, name);
  out += '[';
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) out += ", ";
    text::append_json_string(out, values[i]);
  }
  out += ']';
}

}  // namespace pgdual::jobs::backfill
