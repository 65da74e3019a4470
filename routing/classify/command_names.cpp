#include "routing/classify/command_names.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <utility>

namespace pgdual::routing::detail {
namespace {

// Object type names whose enum spelling is not the SQL spelling.
constexpr std::array<std::pair<std::string_view, std::string_view>, 12> kObjectTypeSpelling = {{
    {"MATVIEW", "MATERIALIZED VIEW"},
    {"FDW", "FOREIGN DATA WRAPPER"},
    {"TABCONSTRAINT", "TABLE"},
    {"DOMCONSTRAINT", "DOMAIN"},
    {"OPCLASS", "OPERATOR CLASS"},
    {"OPFAMILY", "OPERATOR FAMILY"},
    {"TSCONFIGURATION", "TEXT SEARCH CONFIGURATION"},
    {"TSDICTIONARY", "TEXT SEARCH DICTIONARY"},
    {"TSPARSER", "TEXT SEARCH PARSER"},
    {"TSTEMPLATE", "TEXT SEARCH TEMPLATE"},
    {"DEFACL", "DEFAULT PRIVILEGES"},
    {"PUBLICATION_NAMESPACE", "PUBLICATION"},
}};

}  // namespace

std::string object_type_words(int object_type) {
  const ProtobufCEnumValue* value =
      protobuf_c_enum_descriptor_get_value(&pg_query__object_type__descriptor, object_type);
  if (value == nullptr || value->name == nullptr) return {};
  std::string_view name = value->name;
  constexpr std::string_view prefix = "OBJECT_";
  if (!name.starts_with(prefix)) return {};
  name.remove_prefix(prefix.size());
  for (const auto& [enum_spelling, sql_spelling] : kObjectTypeSpelling) {
    if (name == enum_spelling) return std::string(sql_spelling);
  }
  std::string words(name);
  std::replace(words.begin(), words.end(), '_', ' ');
  return words;
}

std::string command_from_type_name(std::string_view type_name) {
  constexpr std::string_view suffix = "Stmt";
  if (type_name.ends_with(suffix)) type_name.remove_suffix(suffix.size());
  // Split CamelCase into words, keeping runs of capitals together ("AlterTSConfiguration" ->
  // "ALTER TS CONFIGURATION").
  std::string out;
  for (std::size_t i = 0; i < type_name.size(); ++i) {
    const auto c = static_cast<unsigned char>(type_name[i]);
    if (i > 0 && std::isupper(c)) {
      const auto prev = static_cast<unsigned char>(type_name[i - 1]);
      const bool next_lower =
          i + 1 < type_name.size() && std::islower(static_cast<unsigned char>(type_name[i + 1]));
      if (std::islower(prev) || (std::isupper(prev) && next_lower)) out += ' ';
    }
    out += static_cast<char>(std::toupper(c));
  }
  return out;
}

bool is_schema_change_type(std::string_view type_name) {
  constexpr std::array<std::string_view, 16> prefixes = {
      "Create",    "Alter",  "Drop",     "Define", "Comment", "Grant", "Rename",  "Reassign",
      "Composite", "Import", "SecLabel", "Rule",   "View",    "Index", "Reindex", "Cluster",
  };
  return std::any_of(prefixes.begin(), prefixes.end(),
                     [&](std::string_view prefix) { return type_name.starts_with(prefix); });
}

}  // namespace pgdual::routing::detail
