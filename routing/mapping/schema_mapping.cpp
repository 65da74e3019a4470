#include "routing/mapping/schema_mapping.hpp"

#include <algorithm>
#include <cctype>

#include "routing/classify/catalog_facts.hpp"

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
      const bool computed = !column.expr.empty() || !column.if_null.empty();
      if (computed && !column.lossless.value_or(false)) mapped.lossy.insert(name);
    }
    if (bare_names_.insert(mapped.view_name).second) {
      std::string lowered = mapped.view_name;
      for (char& c : lowered) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      lowered_names_.push_back(std::move(lowered));
    }
    tables_.emplace(old_table, std::move(mapped));
  }
}

const MappedTable* SchemaMapping::find(std::string_view old_table) const {
  const auto it = tables_.find(old_table);
  return it == tables_.end() ? nullptr : &it->second;
}

void alias_mapped_tables(CatalogFacts& facts, const SchemaMapping& mapping) {
  for (const auto& [old_table, table] : mapping.tables()) {
    const auto view = facts.column_defaults.find(table.view_schema + "." + table.view_name);
    if (view != facts.column_defaults.end()) facts.column_defaults[old_table] = view->second;
    const std::string old_schema = split_table_name(old_table).first;
    auto& schemas = facts.relation_schemas[table.view_name];
    if (std::find(schemas.begin(), schemas.end(), old_schema) == schemas.end()) {
      schemas.push_back(old_schema);
    }
  }
}

bool SchemaMapping::names_table(std::string_view name) const { return bare_names_.contains(name); }

}  // namespace pgdual::routing
