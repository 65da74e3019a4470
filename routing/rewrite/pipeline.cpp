#include "routing/rewrite/pipeline.hpp"

#include <pg_query/pg_query.pb-c.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <limits>
#include <utility>

#include "routing/rewrite/input_time_literals.hpp"
#include "routing/rewrite/time_call_splice.hpp"
#include "routing/rewrite/tree.hpp"

namespace pgdual::routing {
namespace {

using detail::make_cast;
using detail::NodePtr;

bool fail(std::string& error, std::string message) {
  error = std::move(message);
  return false;
}

bool is_uuid_text(std::string_view text) {
  if (text.size() != 36) return false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
    if (dash ? text[i] != '-' : !std::isxdigit(static_cast<unsigned char>(text[i]))) return false;
  }
  return true;
}

// random()'s float8: 17 significant digits give back the same double (locale-independent).
NodePtr double_literal(double value) {
  char digits[64];
  const auto end =
      std::to_chars(digits, digits + sizeof digits, value, std::chars_format::general, 17);
  return make_cast(detail::make_number_const(std::string_view(digits, end.ptr - digits)), "float8");
}

NodePtr bigint_literal(std::int64_t value) {
  NodePtr number;
  if (value >= std::numeric_limits<std::int32_t>::min() &&
      value <= std::numeric_limits<std::int32_t>::max()) {
    number = detail::make_integer_const(static_cast<std::int32_t>(value));
  } else if (value == std::numeric_limits<std::int64_t>::min()) {
    // Its digits without the sign overflow int8; a quoted literal does not.
    number = detail::make_string_const(std::to_string(value));
  } else {
    number = detail::make_number_const(std::to_string(value));  // the parser's form for > int4
  }
  return make_cast(std::move(number), "int8");
}

const char* type_name(TimeType type) {
  switch (type) {
    case TimeType::timestamp:
      return "timestamp";
    case TimeType::date:
      return "date";
    case TimeType::timetz:
      return "timetz";
    case TimeType::time:
      return "time";
    case TimeType::timestamptz:
      break;
  }
  return "timestamptz";
}

// One timestamptz literal, cast to the site's type. A column default stays a timestamptz:
// the assignment to the column converts it as the default expression's own cast would.
NodePtr time_literal(const RewriteSite& site, const std::string& timestamp) {
  const bool plain = site.time_type == TimeType::timestamptz || site.is_column_default();
  NodePtr value =
      make_cast(detail::make_string_const(timestamp), "timestamptz", plain ? site.precision : -1);
  if (plain) return value;
  const int precision = site.time_type == TimeType::date ? -1 : site.precision;
  return make_cast(std::move(value), type_name(site.time_type), precision);
}

// Parameter mode: $n, numbered timestamps first, then randoms, uuids, sequence values.
NodePtr parameter_for(const RewriteSite& site, const RewriteValues& values) {
  int number = values.parameter_base + static_cast<int>(site.value_index);
  if (site.kind != SiteKind::time) number += static_cast<int>(values.timestamps.size());
  if (site.kind == SiteKind::uuid || site.kind == SiteKind::sequence) {
    number += static_cast<int>(values.randoms.size());
  }
  if (site.kind == SiteKind::sequence) number += static_cast<int>(values.uuids.size());
  NodePtr param = detail::make_param_ref(number);
  switch (site.kind) {
    case SiteKind::time: {
      const bool plain = site.time_type == TimeType::timestamptz || site.is_column_default();
      NodePtr value = make_cast(std::move(param), "timestamptz", plain ? site.precision : -1);
      if (plain) return value;
      const int precision = site.time_type == TimeType::date ? -1 : site.precision;
      return make_cast(std::move(value), type_name(site.time_type), precision);
    }
    case SiteKind::random:
      return make_cast(std::move(param), "float8");
    case SiteKind::uuid:
      return make_cast(std::move(param), "uuid");
    case SiteKind::sequence:
      // Under migration.mapping the stores name the sequence differently: no fallback, a NULL
      // fails the statement (docs/schema-mapping.md, "Sequences").
      if (!values.own_sequence_fallback) return make_cast(std::move(param), "int8");
      // COALESCE($n, nextval('seq')): a Bind that could not get the value from the primary
      // passes NULL, and each store draws from its own sequence (counted by the caller).
      return detail::make_coalesce(
          make_cast(std::move(param), "int8"),
          detail::make_func_call("pg_catalog", "nextval",
                                 make_cast(detail::make_string_const(site.sequence), "regclass")));
  }
  return param;
}

// The literal for one site, or null with `error` set when the value is missing or malformed.
NodePtr literal_for(const RewriteSite& site, const RewriteValues& values, std::string& error) {
  if (values.parameter_base > 0) return parameter_for(site, values);
  const std::size_t i = site.value_index;
  switch (site.kind) {
    case SiteKind::time:
      if (i >= values.timestamps.size() || values.timestamps[i].empty() ||
          values.timestamps[i].find('\0') != std::string::npos) {
        fail(error, "missing or malformed timestamp value");
        return nullptr;
      }
      return time_literal(site, values.timestamps[i]);
    case SiteKind::random:
      if (i >= values.randoms.size() || !std::isfinite(values.randoms[i])) {
        fail(error, "missing or non-finite random value");
        return nullptr;
      }
      return double_literal(values.randoms[i]);
    case SiteKind::uuid:
      if (i >= values.uuids.size() || !is_uuid_text(values.uuids[i])) {
        fail(error, "missing or malformed uuid value");
        return nullptr;
      }
      return make_cast(detail::make_string_const(values.uuids[i]), "uuid");
    case SiteKind::sequence:
      if (i >= values.sequence_values.size()) {
        fail(error, "missing sequence value");
        return nullptr;
      }
      return bigint_literal(values.sequence_values[i]);
  }
  fail(error, "unknown site kind");
  return nullptr;
}

bool has_site(const StatementSites& statement, bool column_default) {
  return std::any_of(statement.sites.begin(), statement.sites.end(),
                     [&](const RewriteSite& s) { return s.is_column_default() == column_default; });
}

constexpr const char* kMismatch = "the statement does not match its analysis";

// Puts a default's value into its INSERT: in place of the row's DEFAULT, or appended to the
// row with the column appended to the column list (once, with the first row's value).
bool place_default(PgQuery__InsertStmt& insert, const RewriteSite& site, NodePtr value,
                   std::string& error) {
  // Without a column list the analysis checked that appended values fall in column order;
  // DEFAULT VALUES gets a column list and a VALUES row of its own.
  const bool list_columns = insert.n_cols > 0 || insert.select_stmt == nullptr;
  if (insert.select_stmt == nullptr) {
    NodePtr select = detail::make_values_select();
    PgQuery__SelectStmt& values = *select->select_stmt;
    detail::append_node(values.values_lists, values.n_values_lists, detail::make_list());
    insert.select_stmt = select.release();
  }
  if (insert.select_stmt->node_case != PG_QUERY__NODE__NODE_SELECT_STMT) {
    return fail(error, kMismatch);
  }
  PgQuery__SelectStmt& select = *insert.select_stmt->select_stmt;
  if (detail::values_row(select, site.row) == nullptr) return fail(error, kMismatch);
  PgQuery__List& row = *select.values_lists[site.row]->list;
  if (site.row_position >= 0) {
    const auto at = static_cast<std::size_t>(site.row_position);
    if (at >= row.n_items || !detail::is_default(row.items[at])) return fail(error, kMismatch);
    detail::replace_node(*row.items[at], std::move(value));
    return true;
  }
  if (list_columns && detail::target_index(insert.cols, insert.n_cols, site.column) < 0) {
    detail::append_node(insert.cols, insert.n_cols, detail::make_column_target(site.column));
  }
  detail::append_node(row.items, row.n_items, std::move(value));
  return true;
}

}  // namespace

bool ValueSubstitutionStep::applies_to(const StatementSites& statement) const {
  return has_site(statement, false);
}

bool ValueSubstitutionStep::apply(PgQuery__Node& statement, RewriteContext& context) const {
  // The analysis's own walk meets the calls in the same order; without defaults it reports
  // calls only. Other steps neither add nor remove calls, so the order holds whatever ran first.
  const detail::StatementWalk walk = detail::walk_statement(statement, nullptr, nullptr);
  std::size_t next = 0;
  for (const RewriteSite& site : context.statement.sites) {
    if (site.is_column_default()) continue;
    if (next == walk.sites.size() || walk.sites[next].function != site.function) {
      return fail(context.error, kMismatch);
    }
    NodePtr literal = literal_for(site, context.values, context.error);
    if (literal == nullptr) return false;
    detail::replace_node(*walk.call_nodes[next++], std::move(literal));
    context.changed = true;
  }
  return next == walk.sites.size() || fail(context.error, kMismatch);
}

bool ColumnDefaultsStep::applies_to(const StatementSites& statement) const {
  return has_site(statement, true);
}

bool ColumnDefaultsStep::apply(PgQuery__Node& statement, RewriteContext& context) const {
  const detail::StatementWalk walk = detail::walk_statement(statement, nullptr, nullptr);
  for (const RewriteSite& site : context.statement.sites) {
    if (!site.is_column_default()) continue;
    if (site.insert >= walk.inserts.size()) return fail(context.error, kMismatch);
    PgQuery__InsertStmt& insert = *walk.inserts[site.insert];
    NodePtr literal = literal_for(site, context.values, context.error);
    if (literal == nullptr || !place_default(insert, site, std::move(literal), context.error)) {
      return false;
    }
    if (site.identity_always) {
      insert.override = PG_QUERY__OVERRIDING_KIND__OVERRIDING_SYSTEM_VALUE;
    }
    context.changed = true;
  }
  return true;
}

std::vector<std::int32_t> parameter_types(const RewriteAnalysis& analysis) {
  constexpr std::int32_t kTimestampTz = 1184, kFloat8 = 701, kUuid = 2950, kInt8 = 20;
  std::vector<std::int32_t> types(analysis.time_slots.size(), kTimestampTz);
  types.insert(types.end(), analysis.random_count, kFloat8);
  types.insert(types.end(), analysis.uuid_count, kUuid);
  types.insert(types.end(), analysis.sequences.size(), kInt8);
  return types;
}

std::vector<std::string> parameter_values(const RewriteValues& values) {
  std::vector<std::string> texts = values.timestamps;
  for (double value : values.randoms) {
    char digits[64];
    const auto end =
        std::to_chars(digits, digits + sizeof digits, value, std::chars_format::general, 17);
    texts.emplace_back(digits, end.ptr);
  }
  texts.insert(texts.end(), values.uuids.begin(), values.uuids.end());
  for (std::int64_t value : values.sequence_values) texts.push_back(std::to_string(value));
  return texts;
}

RewritePipeline RewritePipeline::for_store(std::vector<StepPtr> store_steps) {
  RewritePipeline pipeline;
  pipeline.then(std::make_shared<ValueSubstitutionStep>());
  pipeline.then(std::make_shared<ColumnDefaultsStep>());
  for (StepPtr& step : store_steps) pipeline.then(std::move(step));
  pipeline.standard_only_ = pipeline.steps_.size() == 2;
  return pipeline;
}

RewritePipeline& RewritePipeline::then(StepPtr step) {
  if (step == nullptr) return *this;
  steps_.push_back(std::move(step));
  standard_only_ = false;
  return *this;
}

bool RewritePipeline::applies_to(const StatementSites& statement) const {
  return std::any_of(steps_.begin(), steps_.end(),
                     [&](const StepPtr& step) { return step->applies_to(statement); });
}

bool RewritePipeline::run(PgQuery__Node& statement, RewriteContext& context) const {
  for (const StepPtr& step : steps_) {
    if (!step->applies_to(context.statement)) continue;
    if (!step->apply(statement, context)) {
      if (context.error.empty()) context.error = "rewrite step failed";
      context.error = std::string(step->name()) + ": " + context.error;
      return false;
    }
  }
  return true;
}

namespace {

std::string join(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& name : names) out += (out.empty() ? "" : ", ") + name;
  return out;
}

bool values_fit(const RewriteAnalysis& analysis, const RewriteValues& values) {
  return values.timestamps.size() == analysis.time_slots.size() &&
         values.randoms.size() == analysis.random_count &&
         values.uuids.size() == analysis.uuid_count &&
         values.sequence_values.size() == analysis.sequences.size();
}

// On the parse stack: parses again, rewrites, and splices the changed statements into the text.
RewriteResult rewrite_parsed(const std::string& text, const RewriteAnalysis& analysis,
                             const RewriteValues& values, const RewritePipeline& pipeline) {
  RewriteResult result;
  detail::TreePtr tree = detail::parse_to_tree(text, result.error);
  if (tree == nullptr) return result;
  std::string out;
  std::size_t copied = 0;  // text up to here is in `out` or replaced
  std::size_t index = 0;
  for (std::size_t i = 0; i < tree->n_stmts; ++i) {
    PgQuery__RawStmt* raw = tree->stmts[i];
    if (raw == nullptr || raw->stmt == nullptr) continue;
    if (index >= analysis.statements.size() ||
        static_cast<std::size_t>(std::max(raw->stmt_location, 0)) !=
            analysis.statements[index].location) {
      result.error = kMismatch;
      return result;
    }
    const StatementSites& statement = analysis.statements[index];
    RewriteContext context{statement, values, index++, false, {}};
    if (!pipeline.applies_to(statement)) continue;
    if (!pipeline.run(*raw->stmt, context)) {
      result.error = std::move(context.error);
      return result;
    }
    if (!context.changed) continue;
    std::string sql;
    if (!detail::deparse_statement(tree->version, *raw, sql, result.error)) return result;
    out.append(text, copied, statement.location - copied);
    out += sql;
    copied = statement.location + statement.length;
  }
  if (index != analysis.statements.size()) {
    result.error = kMismatch;
    return result;
  }
  result.changed = copied > 0;
  result.sql = result.changed ? out.append(text, copied) : text;
  result.ok = true;
  return result;
}

}  // namespace

RewriteResult rewrite_statement_text(std::string_view sql, const RewriteAnalysis& analysis,
                                     const RewriteValues& values, const RewritePipeline& pipeline) {
  RewriteResult result;
  if (!analysis.parsed) {
    result.error = "the statement did not parse: " + analysis.error;
    return result;
  }
  if (!analysis.rewritable()) {
    result.error = "cannot make the statement deterministic: " + join(analysis.unrewritable());
    return result;
  }
  if (!values_fit(analysis, values)) {
    result.error = "the values do not match the analysis";
    return result;
  }
  if (std::none_of(analysis.statements.begin(), analysis.statements.end(),
                   [&](const StatementSites& s) { return pipeline.applies_to(s); })) {
    result.ok = true;  // nothing to do: no need to parse again
    result.sql = std::string(sql);
    return result;
  }
  // The standard pipeline (value substitution, column defaults) on clock calls only: spliced
  // into the text without a parse (routing/rewrite/time_call_splice.hpp).
  if (pipeline.standard_only()) {
    if (auto spliced = splice_time_calls(sql, analysis, values)) {
      result.ok = true;
      result.changed = true;
      result.sql = std::move(*spliced);
      return result;
    }
  }
  const std::string text(sql);
  std::string error;
  const bool ran = detail::with_parse_stack(
      text, [&] { result = rewrite_parsed(text, analysis, values, pipeline); }, error);
  if (!ran) {
    result = RewriteResult{};
    result.error = std::move(error);
  }
  if (!result.ok) result.sql.clear();
  return result;
}

RewriteCache::RewriteCache(std::size_t capacity, std::size_t max_text_bytes)
    : capacity_(std::max<std::size_t>(capacity, 1)), max_text_bytes_(max_text_bytes) {
  index_.reserve(capacity_);
}

std::shared_ptr<const RewriteAnalysis> RewriteCache::find(std::string_view key) {
  const auto found = index_.find(key);
  if (found == index_.end()) return nullptr;
  ++hits_;
  entries_.splice(entries_.begin(), entries_, found->second);  // now most recently used
  return found->second->analysis;
}

void RewriteCache::remember(std::string_view key, std::shared_ptr<const RewriteAnalysis> analysis) {
  if (key.size() > max_text_bytes_ || index_.contains(key)) return;
  if (index_.size() >= capacity_) {
    index_.erase(entries_.back().sql);
    entries_.pop_back();
  }
  entries_.push_front(Entry{std::string(key), std::move(analysis)});
  index_.emplace(entries_.front().sql, entries_.begin());
}

std::shared_ptr<const RewriteAnalysis> RewriteCache::get(
    std::string_view sql, const ColumnDefaults& defaults,
    const std::vector<std::string>& volatile_functions, const FunctionCatalog* functions) {
  if (auto found = find(sql)) return found;
  ++misses_;
  auto analysis = std::make_shared<const RewriteAnalysis>(
      analyze_for_rewrite(sql, defaults, volatile_functions, functions));
  remember(sql, analysis);
  return analysis;
}

namespace {

// Whether statements that differ from `analysis`'s only in literal values have the same
// analysis: literals name the sequence of nextval('...'), give a time function's precision,
// and decide whether lo_create() lets the store pick the OID (depends_on_literal_values).
bool literal_independent(const RewriteAnalysis& analysis) {
  // One statement only: its byte offsets can be moved to another text (below), a list's not.
  if (analysis.statements.size() != 1 || analysis.depends_on_literal_values) return false;
  for (const auto& statement : analysis.statements) {
    for (const auto& site : statement.sites) {
      if (site.kind == SiteKind::sequence && !site.is_column_default()) return false;
      if (site.kind == SiteKind::time && site.precision >= 0) return false;
    }
  }
  return true;
}

}  // namespace

std::shared_ptr<const RewriteAnalysis> RewriteCache::get(
    std::string_view shape, std::string_view sql, const ColumnDefaults& defaults,
    const std::vector<std::string>& volatile_functions, const FunctionCatalog* functions) {
  // A string that may read the clock ('now') makes the text's analysis its own: its shape is
  // that of texts whose strings do not.
  if (may_hold_input_time_literal(sql)) return get(sql, defaults, volatile_functions, functions);
  // The shape's entry holds only literal-independent, single-statement analyses, so a hit is
  // valid for `sql` once the statement's extent is moved to this text: what follows the
  // statement (a semicolon, spaces) has no literal, so it is as long as in the analysed text.
  if (auto found = find(shape)) {
    if (found->text_size == sql.size() || found->statements.size() != 1) return found;
    auto moved = std::make_shared<RewriteAnalysis>(*found);
    const std::size_t tail =
        found->text_size - (found->statements[0].location + found->statements[0].length);
    auto& statement = moved->statements[0];
    if (sql.size() < statement.location + tail) return found;  // cannot happen for one shape
    statement.length = sql.size() - statement.location - tail;
    moved->text_size = sql.size();
    return moved;
  }
  if (auto found = find(sql)) return found;
  ++misses_;
  auto analysis = std::make_shared<const RewriteAnalysis>(
      analyze_for_rewrite(sql, defaults, volatile_functions, functions));
  remember(literal_independent(*analysis) ? shape : sql, analysis);
  return analysis;
}

void RewriteCache::clear() {
  index_.clear();
  entries_.clear();
}

}  // namespace pgdual::routing
