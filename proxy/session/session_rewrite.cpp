// Identical values on both stores (docs/dual-write.md): a mirrored write that calls now(),
// random(), gen_random_uuid() or nextval(), or leaves a volatile column default to the server,
// is rewritten so that both stores receive the same literals (routing/rewrite/pipeline.hpp).
// The open transaction's timestamp and sequence values come from the primary, with one extra
// round trip before the statement; random values and the timestamp of a statement outside a
// transaction come from pgdual. What cannot be rewritten follows migration.nondeterministic.

#include <spdlog/spdlog.h>

#include <algorithm>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <charconv>

#include "journal/reconcile_queue.hpp"
#include "protocol/constants.hpp"
#include "proxy/net/use_tuple.hpp"
#include "proxy/session/client_session.hpp"
#include "routing/rewrite/input_time_literals.hpp"
#include "routing/rewrite/messages.hpp"
#include "routing/rewrite/policy_error.hpp"
#include "routing/rewrite/values.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

namespace {

// A 64-bit advisory-lock key per table, in a space of pgdual's own (FNV-1a of a prefixed name).
std::int64_t serialize_lock_key(const std::string& table) {
  std::uint64_t hash = 1469598103934665603ULL;
  for (char c : "pgdual.serialize:" + table) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return static_cast<std::int64_t>(hash);
}

constexpr auto kPrimaryValuesTimeout = std::chrono::seconds(30);
// A write calling a function the catalog lacks has it read again, but not more often than
// this: a client that keeps calling a function that does not exist must not make every
// statement read the catalog.
constexpr auto kUnknownFunctionRefreshInterval = std::chrono::seconds(10);

// A write whose text may hold 'now', 'today', ... (routing/rewrite/input_time_literals.hpp).
// Only the text can tell: the classification is shared by texts that differ in their values.
bool writes_clock_literal(const routing::Classification& classification, std::string_view sql) {
  const bool writes = std::any_of(
      classification.statements.begin(), classification.statements.end(),
      [](const routing::StatementInfo& s) { return s.kind == routing::StatementKind::write; });
  return writes && routing::may_hold_input_time_literal(sql);
}

std::string join(const std::vector<std::string>& parts) {
  std::string joined;
  for (const auto& part : parts) joined += (joined.empty() ? "" : ", ") + part;
  return joined;
}

}  // namespace

const routing::ColumnDefaults& ClientSession::session_defaults() {
  static const std::vector<std::string> kDefaultPath{"$user", "public"};
  const auto* facts = catalog_.get();
  const auto& path = search_path_known_ ? search_path_ : kDefaultPath;
  if (facts != defaults_catalog_ || path != defaults_path_) {
    defaults_catalog_ = facts;
    defaults_path_ = path;
    session_defaults_.clear();
    volatile_function_list_.clear();
    if (facts != nullptr) {
      session_defaults_ = routing::defaults_for_session(*facts, path, name_context().user);
      volatile_function_list_.assign(facts->volatile_functions.begin(),
                                     facts->volatile_functions.end());
    }
    if (rewrite_cache_) rewrite_cache_->clear();  // analyses depend on both
  }
  return session_defaults_;
}

bool ClientSession::rewrite_candidate() {
  // Cheap test on the frame's classification (the unit builder's, cached per statement shape)
  // before the full analysis, which parses the text itself.
  const auto& classification = units_->last_classification();
  if (!classification) return false;
  const auto names = name_context();
  rewrite_table_ = "(none)";
  for (const auto& statement : classification->statements) {
    // DDL only where it fills rows at once (ALTER TABLE ... ADD COLUMN with a volatile default).
    const bool fills_rows =
        statement.kind == routing::StatementKind::ddl && statement.may_evaluate_per_store;
    if (statement.kind != routing::StatementKind::write && !fills_rows) continue;
    if (!statement.write_tables.empty()) {
      rewrite_table_ = routing::qualified_table(statement.write_tables.front(), names);
    }
    if (statement.calls_nondeterministic || statement.may_choose_rows_per_store ||
        statement.may_evaluate_per_store) {
      return true;
    }
    if (catalog_ == nullptr) continue;
    // (CURRENT_ROLE, USER and CURRENT_CATALOG are reported as functions that pg_proc lacks:
    // such a write is analysed once per shape for nothing.)
    for (const auto& function : statement.functions) {
      if (catalog_->is_volatile_user_function(function) ||
          catalog_->functions.is_extension_volatile(function) ||
          !catalog_->functions.knows(function)) {
        return true;
      }
    }
    // A column left to its volatile default: INSERT (made literal where it can be), COPY FROM.
    if (statement.command != "INSERT" && statement.command != "COPY") continue;
    for (const auto& table : statement.write_tables) {
      if (catalog_->column_defaults.contains(routing::qualified_table(table, names))) return true;
    }
  }
  return false;
}

std::optional<std::string> ClientSession::handle_nondeterministic(bool as_parse,
                                                                  std::string_view name,
                                                                  const std::string& why) {
  const std::string& table = rewrite_table_;
  auto& metrics = runtime_.metrics().rewrite();
  const auto policy = config_->config.migration.nondeterministic;
  if (policy == config::Nondeterministic::serialize && unit_open_ && !unit_bytes_flushed_) {
    // Sent as it is, but in the same order on both stores: take_serialize_lock() takes the
    // table's lock on the primary before the unit, and it is held until the transaction is
    // done on both stores.
    metrics.count_nondeterministic(table, "serialized");
    serialize_lock_wanted_ = serialize_lock_key(table);
    return std::nullopt;
  }
  if (policy == config::Nondeterministic::reject) {
    metrics.count_nondeterministic(table, "rejected");
    const std::string reason = "this write would give different values on the two stores (" + why +
                               "); migration.nondeterministic is \"reject\"";
    std::string bytes;
    if (as_parse) {
      protocol::append_parse(bytes, name, routing::policy_error_statement(reason), {});
    } else {
      protocol::append_query(bytes, routing::policy_error_statement(reason));
    }
    return bytes;
  }
  // allow: sent as it is; the table needs reconciliation.
  metrics.count_nondeterministic(table, "allowed");
  // The stores now differ in this table: it goes to the reconciliation queue. A write whose
  // table is not visible (a DO block: "(none)") marks the whole database.
  runtime_.metrics().journal().count_reconciliation(
      identity_.database, {table == "(none)" ? std::string(journal::kUnknownTable) : table});
  // Once per cause and table per session: the counter carries the rate.
  if (nondeterministic_logged_.size() < 100 &&
      nondeterministic_logged_.insert(table + why).second) {
    spdlog::warn(
        "non-deterministic write sent to both stores as it is ({}): table {} needs "
        "reconciliation",
        why, table);
  }
  return std::nullopt;
}

asio::awaitable<std::optional<std::vector<std::optional<std::string>>>>
ClientSession::fetch_primary_values(std::string sql, std::chrono::seconds timeout) {
  // Everything the client sent before this unit goes first; the values query runs between
  // it and the unit (whose bytes so far are held back), as a swallowed unit of pgdual's own.
  std::string held = primary_out_.substr(std::min(unit_start_, primary_out_.size()));
  primary_out_.resize(primary_out_.size() - held.size());
  if (!primary_out_.empty()) {
    if (co_await primary_->stream().write_all(primary_out_)) co_return std::nullopt;
  }
  primary_out_ = std::move(held);
  unit_start_ = 0;
  auto request = std::make_shared<PrimaryValues>();
  primary_leg_.insert_before_newest(values_unit(request));  // before the open unit
  std::string bytes;
  protocol::append_query(bytes, sql);
  if (co_await primary_->stream().write_all(bytes)) co_return std::nullopt;

  co_await wait_primary_values(*request, timeout);
  co_return single_row(*request);
}

PrimaryUnit ClientSession::values_unit(const std::shared_ptr<PrimaryValues>& request) {
  // pgdual's own query: its reply is captured for pgdual and never reaches the client.
  request->capture = std::make_shared<shadow::ResultCapture>();
  PrimaryUnit unit;
  unit.id = next_unit_++;
  unit.sent = Clock::now();
  unit.origin = UnitOrigin::values_query;
  unit.capture = request->capture;
  unit.primary_values = request;
  return unit;
}

std::optional<std::vector<std::optional<std::string>>> ClientSession::single_row(
    const PrimaryValues& request) {
  const auto& sets = request.capture->result_sets();
  if (!request.done || sets.size() != 1 || sets.front().end != shadow::SetEnd::complete ||
      sets.front().rows.size() != 1) {
    return std::nullopt;
  }
  return sets.front().rows.front().values;
}

asio::awaitable<void> ClientSession::wait_primary_values(const PrimaryValues& request,
                                                         std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!request.done && !primary_gone_ && Clock::now() < deadline) {
    // pump_primary cancels the timer when the reply is complete.
    primary_progress_->expires_at(deadline);
    co_await primary_progress_->async_wait(use_tuple);
  }
}

asio::awaitable<std::optional<routing::RewriteValues>> ClientSession::values_for_execution(
    const routing::RewriteAnalysis& analysis, bool may_ask_primary, std::string& why) {
  bool needs_transaction_time = false;
  for (const auto& slot : analysis.time_slots) {
    if (slot.scope == routing::TimeScope::transaction && !slot.new_transaction) {
      needs_transaction_time = true;
    }
  }
  const bool in_transaction = predicted_status_ == protocol::TxnStatus::in_transaction;
  // The transaction's now() is asked for only here, with the first statement that needs it,
  // never right after BEGIN: a query of pgdual's there would make the client's SET
  // TRANSACTION fail (25001, "must be called before any query") and would take a REPEATABLE
  // READ transaction's snapshot before the client's first statement of its own.
  routing::PrimaryValuesRequest request;
  request.transaction_timestamp =
      needs_transaction_time && in_transaction && !transaction_timestamp_;
  request.sequences = analysis.sequences;
  std::vector<std::int64_t> sequence_values;
  if (!request.empty()) {
    if (!may_ask_primary) {
      why = "values from the primary needed in the middle of a pipelined batch";
      co_return std::nullopt;
    }
    std::string values_sql = routing::primary_values_query(request);
    auto row = co_await fetch_primary_values(std::move(values_sql), kPrimaryValuesTimeout);
    const std::size_t expected = request.sequences.size() + (request.transaction_timestamp ? 1 : 0);
    if (!row || row->size() != expected) {
      // Most likely the statement fails on the primary too (no such sequence, aborted
      // transaction); if not, it goes to both stores as it is.
      why = "the primary did not supply the values";
      co_return std::nullopt;
    }
    std::size_t next = 0;
    if (request.transaction_timestamp) transaction_timestamp_ = (*row)[next++];
    for (; next < row->size(); ++next) {
      std::int64_t value = 0;
      const auto& text = (*row)[next];
      if (!text ||
          std::from_chars(text->data(), text->data() + text->size(), value).ec != std::errc()) {
        why = "a sequence value that is not a number";
        co_return std::nullopt;
      }
      sequence_values.push_back(value);
    }
  }
  routing::RewriteValues values;
  routing::build_rewrite_values(analysis, in_transaction ? transaction_timestamp_ : std::nullopt,
                                sequence_values, values);
  co_return values;
}

void ClientSession::count_rewrite(const routing::RewriteAnalysis& analysis) {
  auto& metrics = runtime_.metrics().rewrite();
  bool seen[metrics::kRewriteReasonCount] = {};
  for (const auto& statement : analysis.statements) {
    for (const auto& site : statement.sites) {
      metrics::RewriteReason reason = metrics::RewriteReason::time;
      if (site.is_column_default()) {
        reason = metrics::RewriteReason::column_default;
      } else if (site.kind == routing::SiteKind::random) {
        reason = metrics::RewriteReason::random;
      } else if (site.kind == routing::SiteKind::uuid) {
        reason = metrics::RewriteReason::uuid;
      } else if (site.kind == routing::SiteKind::sequence) {
        reason = metrics::RewriteReason::sequence;
      }
      seen[static_cast<std::size_t>(reason)] = true;
    }
  }
  for (std::size_t i = 0; i < metrics::kRewriteReasonCount; ++i) {
    if (seen[i]) metrics.rewritten(static_cast<metrics::RewriteReason>(i)).Increment();
  }
}

std::optional<std::string> ClientSession::rewrite_named_parse(
    const std::string& name, const std::string& sql, const std::vector<std::int32_t>& param_oids,
    std::shared_ptr<const routing::RewriteAnalysis> analysis) {
  // Parameter mode: the text serves every execution, so each value becomes a parameter that
  // every Bind of the statement supplies (rewrite_bind).
  const std::size_t client_parameters =
      std::max<std::size_t>(static_cast<std::size_t>(analysis->max_parameter), param_oids.size());
  routing::RewriteValues shape;
  shape.parameter_base = static_cast<int>(client_parameters) + 1;
  shape.own_sequence_fallback = config_->mapping.empty();
  shape.timestamps.resize(analysis->time_slots.size());
  shape.randoms.resize(analysis->random_count);
  shape.uuids.resize(analysis->uuid_count);
  shape.sequence_values.resize(analysis->sequences.size());
  const auto result = routing::rewrite_statement_text(sql, *analysis, shape, rewrite_pipeline_);
  if (!result.ok) return handle_nondeterministic(true, name, result.error);
  if (!result.changed) return std::nullopt;
  std::string bytes;
  protocol::append_parse(bytes, name, result.sql,
                         routing::extended_parameter_types(param_oids, client_parameters,
                                                           routing::parameter_types(*analysis)));
  named_rewrites_[name] = NamedRewrite{std::move(analysis), client_parameters};
  units_->remember_named_parse(name, bytes);  // what a reconnected secondary gets
  return bytes;
}

asio::awaitable<std::optional<std::string>> ClientSession::rewrite_bind(
    const protocol::Frame& frame) {
  serialize_lock_wanted_.reset();
  if (named_rewrites_.empty() && named_unrewritable_.empty()) co_return std::nullopt;
  auto bind = protocol::parse_bind(frame.payload);
  if (!bind || bind->statement.empty()) co_return std::nullopt;
  if (auto unrewritable = named_unrewritable_.find(std::string(bind->statement));
      unrewritable != named_unrewritable_.end()) {
    rewrite_table_ = unrewritable->second.table;
    const std::string why = unrewritable->second.why;
    handle_nondeterministic(false, {}, why);
    co_await take_serialize_lock();
    co_return std::nullopt;
  }
  auto it = named_rewrites_.find(std::string(bind->statement));
  if (it == named_rewrites_.end()) co_return std::nullopt;
  const auto analysis = it->second.analysis;  // the map may change while we wait
  const std::size_t client_parameters = it->second.client_parameters;
  std::string why;
  auto values = co_await values_for_execution(*analysis, !unit_bytes_flushed_, why);
  std::vector<std::optional<std::string>> extra;
  if (values) {
    for (auto& text : routing::parameter_values(*values)) extra.emplace_back(std::move(text));
  } else {
    // The statement needs its parameters whatever happens. Without the primary's values,
    // pgdual supplies its own, and NULL for the sequences: COALESCE($n, nextval(...)) then
    // lets each store draw its own value, which is counted.
    handle_nondeterministic(false, {}, why);
    co_await take_serialize_lock();
    routing::RewriteValues fallback;
    routing::build_rewrite_values(*analysis, std::nullopt,
                                  std::vector<std::int64_t>(analysis->sequences.size(), 0),
                                  fallback);
    for (auto& text : routing::parameter_values(fallback)) extra.emplace_back(std::move(text));
    for (std::size_t i = 0; i < analysis->sequences.size(); ++i) {
      extra[extra.size() - 1 - i].reset();
    }
  }
  auto bytes = routing::bind_with_extra_parameters(*bind, client_parameters, extra);
  if (!bytes) co_return std::nullopt;  // the server reports the client's own mistake
  if (values) count_rewrite(*analysis);
  co_return bytes;
}

asio::awaitable<std::optional<std::string>> ClientSession::rewrite_frame(
    const protocol::Frame& frame) {
  serialize_lock_wanted_.reset();
  const bool as_parse = frame.type == protocol::frontend::kParse;
  std::string sql, name;
  std::vector<std::int32_t> param_oids;
  if (as_parse) {
    auto parse = protocol::parse_parse(frame.payload);
    if (!parse) co_return std::nullopt;
    sql = std::string(parse->sql);
    name = std::string(parse->name);
    param_oids = parse->param_oids;
  } else {
    auto query = protocol::parse_query(frame.payload);
    if (!query) co_return std::nullopt;
    sql = std::string(*query);
  }
  if (!rewrite_candidate()) {
    const auto& classification = units_->last_classification();
    if (!classification || !writes_clock_literal(*classification, sql)) co_return std::nullopt;
  }
  if (!rewrite_cache_) rewrite_cache_ = std::make_unique<routing::RewriteCache>(256);
  const auto& defaults = session_defaults();
  const routing::FunctionCatalog* functions = catalog_ ? &catalog_->functions : nullptr;
  const auto analysis =
      rewrite_cache_->get(units_->last_key(), sql, defaults, volatile_function_list_, functions);
  if (analysis->calls_unknown_function) {
    // Created around pgdual (or by another pgdual) since the catalog was read: the session
    // reads it again at its next transaction boundary.
    runtime_.catalogs().mark_stale_for_unknown(catalog_key(), kUnknownFunctionRefreshInterval);
  }
  if (!analysis->parsed || !analysis->needs_rewrite) co_return std::nullopt;
  // (Named locals throughout: GCC 12 mishandles temporaries in coroutines.)
  if (!analysis->rewritable()) {
    const std::string why = join(analysis->unrewritable());
    if (!name.empty() &&
        config_->config.migration.nondeterministic != config::Nondeterministic::reject) {
      // Parsing runs nothing: what the policy says happens at each execution (rewrite_bind).
      named_unrewritable_[name] = NamedUnrewritable{rewrite_table_, why};
      co_return std::nullopt;
    }
    auto replacement = handle_nondeterministic(as_parse, name, why);
    co_await take_serialize_lock();
    co_return replacement;
  }
  if (!name.empty()) co_return rewrite_named_parse(name, sql, param_oids, analysis);
  std::string why;
  auto values = co_await values_for_execution(*analysis, !unit_bytes_flushed_, why);
  if (!values) {
    auto replacement = handle_nondeterministic(as_parse, name, why);
    co_await take_serialize_lock();
    co_return replacement;
  }
  const auto result = routing::rewrite_statement_text(sql, *analysis, *values, rewrite_pipeline_);
  if (!result.ok) {
    auto replacement = handle_nondeterministic(as_parse, name, result.error);
    co_await take_serialize_lock();
    co_return replacement;
  }
  if (!result.changed) co_return std::nullopt;
  count_rewrite(*analysis);
  std::string bytes;
  if (as_parse) {
    protocol::append_parse(bytes, name, result.sql, param_oids);
  } else {
    protocol::append_query(bytes, result.sql);
  }
  co_return bytes;
}

void ClientSession::track_rewritten_statements(const protocol::Frame& frame) {
  // Which Describe gets a trimmed ParameterDescription, and which rewritten statements end.
  if (frame.type == protocol::frontend::kDescribe) {
    auto describe = protocol::parse_describe(frame.payload);
    if (!describe || describe->first != 'S') return;
    ParameterTrim trim{primary_leg_.newest_id(), std::nullopt};
    auto it = named_rewrites_.find(std::string(describe->second));
    if (it != named_rewrites_.end()) trim.keep = it->second.client_parameters;
    parameter_trims_.push_back(trim);
  } else if (frame.type == protocol::frontend::kClose) {
    auto close = protocol::parse_close(frame.payload);
    if (close && close->first == 'S') {
      named_rewrites_.erase(std::string(close->second));
      named_unrewritable_.erase(std::string(close->second));
    }
  } else if (frame.type == protocol::frontend::kQuery &&
             (!named_rewrites_.empty() || !named_unrewritable_.empty())) {
    // DEALLOCATE name / DEALLOCATE ALL / DISCARD ALL end protocol-level statements too.
    for (const auto* statement : units_->facts().statements) {
      if (statement->command == "DEALLOCATE") {
        named_rewrites_.erase(statement->name);
        named_unrewritable_.erase(statement->name);
      }
      if (statement->command == "DEALLOCATE ALL" || statement->command == "DISCARD ALL") {
        named_rewrites_.clear();
        named_unrewritable_.clear();
      }
    }
  }
}

asio::awaitable<void> ClientSession::take_serialize_lock() {
  if (!serialize_lock_wanted_) co_return;
  const std::int64_t key = *serialize_lock_wanted_;
  serialize_lock_wanted_.reset();
  if (std::find(serialize_locks_.begin(), serialize_locks_.end(), key) != serialize_locks_.end()) {
    co_return;  // this transaction holds it already
  }
  std::string sql = "SELECT pg_catalog.pg_advisory_lock(" + std::to_string(key) + ")";
  // As long as it takes: another session may hold the lock for a whole transaction.
  auto row = co_await fetch_primary_values(std::move(sql), std::chrono::hours(24));
  if (row) {
    serialize_locks_.push_back(key);
  } else {
    spdlog::warn(
        "could not take the serialize lock of table {} on the primary; the write goes "
        "to both stores unordered",
        rewrite_table_);
  }
}

asio::awaitable<bool> ClientSession::release_serialize_locks() {
  // After the unit that ended the transaction: once it is done on the primary and on the
  // secondary, the next session's serialized write on these tables may start.
  const UnitId last = primary_leg_.newest_id();
  if (!primary_out_.empty()) {
    if (co_await primary_->stream().write_all(primary_out_)) co_return false;
    primary_out_.clear();
    unit_start_ = 0;
  }
  const auto deadline = Clock::now() + config_->config.limits.secondary_timeout;
  while (last != 0 && primary_leg_.pending(last) && !primary_gone_ && Clock::now() < deadline) {
    primary_progress_->expires_at(deadline);
    co_await primary_progress_->async_wait(use_tuple);
  }
  if (secondary_usable()) {
    co_await secondary_->flush();
    co_await secondary_->wait_through(last, config_->config.limits.secondary_timeout);
  }
  std::string sql;
  for (std::int64_t key : serialize_locks_) {
    sql += (sql.empty() ? "SELECT " : ", ") + std::string("pg_catalog.pg_advisory_unlock(") +
           std::to_string(key) + ")";
  }
  serialize_locks_.clear();
  PrimaryUnit unlock;
  unlock.id = next_unit_++;
  unlock.sent = Clock::now();
  unlock.origin = UnitOrigin::serialize_unlock;
  primary_leg_.append(std::move(unlock));
  std::string bytes;
  protocol::append_query(bytes, sql);
  co_return !co_await primary_->stream().write_all(bytes);
}

}  // namespace pgdual::proxy
