#include "routing/mapping/schema_mapping.hpp"

namespace pgdual::routing {

std::pair<std::string, std::string> split_table_name(std::string_view qualified) {
  // Normalised names hold no '.' inside a part unless it was quoted; the last dot that is not
  // inside quotes separates, and config/ keeps quoted parts unquoted, so the first dot does.
  const auto dot = qualified.find('.');
  if (dot == std::string_view::npos) return {"public", std::string(qualified)};
  return {std::string(qualified.substr(0, dot)), std::string(qualified.substr(dot + 1))};
}

SchemaMapping::SchemaMapping(const config::MappingConfig& config) {
  for (const auto& [old_table, table] : config.tables) {
    MappedTable mapped;
    mapped.old_table = old_table;
    mapped.new_table = table.to;
    mapped.view_schema = config.schema;
    mapped.view_name = split_table_name(old_table).second;
    for (const auto& [name, column] : table.columns) {
      if (column.drop) mapped.dropped.insert(name);
    }
    bare_names_.insert(mapped.view_name);
    tables_.emplace(old_table, std::move(mapped));
  }
}

const MappedTable* SchemaMapping::find(std::string_view old_table) const {
  const auto it = tables_.find(old_table);
  return it == tables_.end() ? nullptr : &it->second;
}

bool SchemaMapping::names_table(std::string_view name) const { return bare_names_.contains(name); }

}  // namespace pgdual::routing
