#include "routing/classify/catalog_facts.hpp"

#include <pg_query.h>
#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <memory>

namespace pgdual::routing {

// One round trip, one result shape. Extension members are left out (see the
// header); so are temporary and TOAST schemas.
const char* const kCatalogQuery =
    "SELECT 'f', n.nspname::text, p.proname::text, NULL::text, NULL::text, NULL::text, "
    "NULL::text, NULL::text, NULL::text "
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.provolatile = 'v' AND p.prokind IN ('f', 'p') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND NOT EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = "
    "'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') "
    "UNION ALL "
    "SELECT 'r', n.nspname::text, c.relname::text, c.oid::text, NULL, NULL, NULL, NULL, NULL "
    "FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname !~ '^pg_(toast|temp)' "
    "UNION ALL "
    // For the write analysis only: extensions' volatile functions, and the names of all
    // functions, one row per schema (pg_catalog alone has some 3000: names only, once each).
    "SELECT 'e', n.nspname::text, p.proname::text, NULL, NULL, NULL, NULL, NULL, NULL "
    "FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_namespace n ON n.oid = p.pronamespace "
    "WHERE p.provolatile = 'v' AND p.prokind IN ('f', 'p') "
    "AND EXISTS (SELECT 1 FROM pg_catalog.pg_depend d WHERE d.classid = "
    "'pg_catalog.pg_proc'::regclass AND d.objid = p.oid AND d.deptype = 'e') "
    "UNION ALL "
    "SELECT 'n', n.nspname::text, "
    "pg_catalog.string_agg(DISTINCT pg_catalog.quote_ident(x.name), ','), "
    "NULL, NULL, NULL, NULL, NULL, NULL "
    // Type names too: uuid('...') and jsonb('{}') are casts written as calls.
    "FROM (SELECT p.pronamespace AS nsp, p.proname::text AS name FROM pg_catalog.pg_proc p "
    "UNION ALL SELECT t.typnamespace, t.typname::text FROM pg_catalog.pg_type t) x "
    "JOIN pg_catalog.pg_namespace n ON n.oid = x.nsp "
    "WHERE n.nspname !~ '^pg_(toast|temp)' GROUP BY n.nspname "
    "UNION ALL "
    "SELECT 'k', NULL, i.indrelid::text, i.indkey::text, NULL, NULL, NULL, NULL, NULL "
    "FROM pg_catalog.pg_index i JOIN pg_catalog.pg_class c ON c.oid = i.indrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "WHERE i.indisprimary AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "UNION ALL "
    // Columns with a default or an identity: extra = the column, then its identity kind, its
    // position among live columns, the default expression, the sequence behind it, and
    // whether the expression calls anything that is not immutable: the catalog's own
    // volatility (pg_proc.provolatile) of every function and operator in the stored tree,
    // and the SQL value functions (CURRENT_USER, ...), rather than a list of names.
    "SELECT 'd', n.nspname::text, c.relname::text, a.attname::text, a.attidentity::text, "
    "(SELECT count(*) FROM pg_catalog.pg_attribute l WHERE l.attrelid = c.oid "
    "AND l.attnum > 0 AND l.attnum <= a.attnum AND NOT l.attisdropped)::text, "
    "pg_catalog.pg_get_expr(d.adbin, d.adrelid), "
    "pg_catalog.pg_get_serial_sequence(pg_catalog.quote_ident(n.nspname) || '.' || "
    "pg_catalog.quote_ident(c.relname), a.attname), "
    "(d.adbin IS NOT NULL AND (d.adbin::text ~ '[{]SQLVALUEFUNCTION' OR EXISTS (SELECT 1 FROM "
    "pg_catalog.regexp_matches(d.adbin::text, ':(funcid|opfuncid) ([0-9]+)', 'g') m "
    "JOIN pg_catalog.pg_proc f ON f.oid = m[2]::oid WHERE f.provolatile <> 'i')))::text "
    "FROM pg_catalog.pg_attribute a JOIN pg_catalog.pg_class c ON c.oid = a.attrelid "
    "JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace "
    "LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum "
    // Views too: a view's column default (ALTER VIEW ... SET DEFAULT) applies to an INSERT
    // through it, as migration.mapping's views on the new store do (docs/schema-mapping.md).
    "WHERE c.relkind IN ('r', 'p', 'v') AND a.attnum > 0 AND NOT a.attisdropped "
    "AND a.attgenerated = '' AND (d.adbin IS NOT NULL OR a.attidentity <> '') "
    "AND n.nspname NOT IN ('pg_catalog', 'information_schema') "
    "AND n.nspname !~ '^pg_(toast|temp)'";

namespace {

std::string bare(std::string_view name) {
  const auto dot = name.rfind('.');
  return std::string(dot == std::string_view::npos ? name : name.substr(dot + 1));
}

std::optional<std::uint32_t> to_oid(const std::optional<std::string>& text) {
  if (!text) return std::nullopt;
  std::uint32_t value = 0;
  auto [end, ec] = std::from_chars(text->data(), text->data() + text->size(), value);
  if (ec != std::errc() || end != text->data() + text->size()) return std::nullopt;
  return value;
}

std::vector<int> to_attnums(std::string_view text) {  // int2vector: "1 3"
  std::vector<int> attnums;
  const char* p = text.data();
  const char* end = text.data() + text.size();
  while (p < end) {
    if (*p == ' ') {
      ++p;
      continue;
    }
    int value = 0;
    auto [next, ec] = std::from_chars(p, end, value);
    if (ec != std::errc()) break;
    attnums.push_back(value);
    p = next;
  }
  return attnums;
}

// A default expression as pg_get_expr prints it -> how the rewrite makes it explicit.
std::optional<ColumnDefault> classify_default(const TextRow& row) {
  ColumnDefault column;
  column.column = *row[3];
  const std::string identity = row[4].value_or("");
  const std::string expression = row[6].value_or("");
  const std::string sequence = row[7].value_or("");
  int position = 0;
  if (row[5]) std::from_chars(row[5]->data(), row[5]->data() + row[5]->size(), position);
  column.position = position;
  if (identity == "a" || identity == "d") {
    column.kind = DefaultKind::sequence;
    column.identity = identity == "a" ? Identity::always : Identity::by_default;
    column.sequence = sequence;
    return sequence.empty() ? std::nullopt : std::optional(column);
  }
  const bool not_immutable = row[8].value_or("") == "true";
  auto starts = [&](std::string_view prefix) { return expression.rfind(prefix, 0) == 0; };
  if (starts("nextval(")) {
    column.kind = DefaultKind::sequence;
    column.sequence = sequence;
    if (column.sequence.empty()) {
      // nextval('name'::regclass) on a sequence not owned by the column.
      const auto open = expression.find('\'');
      const auto close = open == std::string::npos ? open : expression.find('\'', open + 1);
      if (close == std::string::npos) return std::nullopt;
      column.sequence = expression.substr(open + 1, close - open - 1);
    }
    return column;
  }
  // The transaction's timestamp, in whatever type: the rewrite writes one timestamptz and the
  // assignment cast converts it, as the default would.
  for (const char* time : {"now()", "CURRENT_TIMESTAMP", "CURRENT_DATE", "LOCALTIMESTAMP",
                           "CURRENT_TIME", "LOCALTIME", "transaction_timestamp()"}) {
    if (starts(time)) {
      column.kind = DefaultKind::time;
      return column;
    }
  }
  if (starts("gen_random_uuid()") || expression.find("uuid_generate_v4()") != std::string::npos) {
    column.kind = DefaultKind::uuid;
    return column;
  }
  if (not_immutable) {
    // timezone('utc', now()), clock_timestamp(), random(), a user's VOLATILE function: a value
    // pgdual cannot make literal; an INSERT that leaves it to the default is non-deterministic.
    column.kind = DefaultKind::opaque;
    column.expression = expression;
    return column;
  }
  return std::nullopt;  // an immutable default: the same on both stores
}

struct ParseResultDeleter {
  void operator()(PgQuery__ParseResult* result) const {
    pg_query__parse_result__free_unpacked(result, nullptr);
  }
};

}  // namespace

bool CatalogFacts::is_volatile_user_function(std::string_view call) const {
  if (volatile_functions.empty()) return false;
  return volatile_functions.contains(std::string(call));
}

CatalogFacts catalog_facts_from_rows(const std::vector<TextRow>& rows) {
  CatalogFacts facts;
  for (const auto& row : rows) {
    if (row.size() != 9 || !row[0] || row[0]->size() != 1) continue;
    const char kind = row[0]->front();
    if (kind == 'f' && row[1] && row[2]) {
      facts.volatile_functions.insert(*row[1] + "." + *row[2]);
      facts.volatile_functions.insert(*row[2]);
    } else if (kind == 'e' && row[1] && row[2]) {
      facts.functions.extension_volatile.insert(*row[1] + "." + *row[2]);
      facts.functions.extension_volatile.insert(*row[2]);
    } else if (kind == 'n' && row[1] && row[2]) {
      // quote_ident's output reads like a search_path: "Odd Name",plain
      for (std::string& name : parse_search_path(*row[2])) {
        facts.functions.names.insert(*row[1] + "." + name);
        facts.functions.names.insert(std::move(name));
      }
    } else if (kind == 'r' && row[1] && row[2]) {
      facts.relation_schemas[*row[2]].push_back(*row[1]);
      if (auto oid = to_oid(row[3])) facts.relation_names[*oid] = *row[1] + "." + *row[2];
    } else if (kind == 'k' && row[3]) {
      if (auto oid = to_oid(row[2])) facts.primary_keys[*oid] = to_attnums(*row[3]);
    } else if (kind == 'd' && row[1] && row[2] && row[3]) {
      if (auto column = classify_default(row)) {
        facts.column_defaults[*row[1] + "." + *row[2]].push_back(std::move(*column));
      }
    }
  }
  return facts;
}

ColumnDefaults defaults_for_session(const CatalogFacts& facts,
                                    const std::vector<std::string>& search_path,
                                    std::string_view user) {
  ColumnDefaults defaults = facts.column_defaults;
  for (const auto& [qualified, columns] : facts.column_defaults) {
    const std::string name = bare(qualified);
    if (resolve_table(name, search_path, user, &facts) == qualified) defaults[name] = columns;
  }
  return defaults;
}

std::vector<std::string> parse_search_path(std::string_view text) {
  std::vector<std::string> schemas;
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && (text[i] == ' ' || text[i] == ',')) ++i;
    if (i >= text.size()) break;
    std::string name;
    if (text[i] == '"') {
      // A quoted name: "" inside stands for one quote.
      for (++i; i < text.size(); ++i) {
        if (text[i] == '"') {
          if (i + 1 < text.size() && text[i + 1] == '"') {
            name.push_back('"');
            ++i;
            continue;
          }
          ++i;
          break;
        }
        name.push_back(text[i]);
      }
    } else {
      for (; i < text.size() && text[i] != ',' && text[i] != ' '; ++i) {
        name.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(text[i]))));
      }
    }
    while (i < text.size() && text[i] != ',') ++i;
    schemas.push_back(std::move(name));
  }
  return schemas;
}

std::optional<std::vector<std::string>> search_path_from_set(std::string_view sql) {
  const std::string text(sql);
  PgQueryProtobufParseResult parsed = pg_query_parse_protobuf(text.c_str());
  if (parsed.error != nullptr) {
    pg_query_free_protobuf_parse_result(parsed);
    return std::nullopt;
  }
  std::unique_ptr<PgQuery__ParseResult, ParseResultDeleter> tree(pg_query__parse_result__unpack(
      nullptr, parsed.parse_tree.len, reinterpret_cast<const uint8_t*>(parsed.parse_tree.data)));
  pg_query_free_protobuf_parse_result(parsed);
  if (tree == nullptr || tree->n_stmts != 1 || tree->stmts[0]->stmt == nullptr) return std::nullopt;
  const PgQuery__Node& node = *tree->stmts[0]->stmt;
  if (node.node_case != PG_QUERY__NODE__NODE_VARIABLE_SET_STMT) return std::nullopt;
  const PgQuery__VariableSetStmt& set = *node.variable_set_stmt;
  if (set.name == nullptr || std::string_view(set.name) != "search_path") return std::nullopt;
  std::vector<std::string> schemas;
  if (set.kind != PG_QUERY__VARIABLE_SET_KIND__VAR_SET_VALUE) return schemas;  // DEFAULT, RESET
  for (std::size_t i = 0; i < set.n_args; ++i) {
    const PgQuery__Node* arg = set.args[i];
    // The grammar turns both identifiers (already case-folded) and string
    // literals into string constants.
    if (arg == nullptr || arg->node_case != PG_QUERY__NODE__NODE_A_CONST) continue;
    const PgQuery__AConst& value = *arg->a_const;
    if (value.val_case == PG_QUERY__A__CONST__VAL_SVAL && value.sval != nullptr) {
      schemas.emplace_back(value.sval->sval);
    }
  }
  return schemas;
}

std::string resolve_table(std::string_view table, const std::vector<std::string>& search_path,
                          std::string_view user, const CatalogFacts* facts) {
  if (table.find('.') != std::string_view::npos) return std::string(table);
  const std::string name(table);
  auto effective = [&](const std::string& schema) {
    return schema == "$user" ? std::string(user) : schema;
  };
  if (facts != nullptr) {
    if (auto it = facts->relation_schemas.find(name); it != facts->relation_schemas.end()) {
      const auto& holders = it->second;
      auto holds = [&](const std::string& schema) {
        return std::find(holders.begin(), holders.end(), schema) != holders.end();
      };
      // pg_catalog is searched first unless the path names it.
      if (std::find(search_path.begin(), search_path.end(), "pg_catalog") == search_path.end() &&
          holds("pg_catalog")) {
        return "pg_catalog." + name;
      }
      for (const auto& schema : search_path) {
        if (holds(effective(schema))) return effective(schema) + "." + name;
      }
    }
  }
  for (const auto& schema : search_path) {
    if (schema != "$user" && schema != "pg_catalog" && !schema.starts_with("pg_temp")) {
      return schema + "." + name;
    }
  }
  return "public." + name;
}

}  // namespace pgdual::routing
