// migration.mapping on the data path (docs/schema-mapping.md): the new store's copy of every
// Query and Parse that names a mapped table is pointed at pgdual's view of that table
// (routing/mapping/statement_mapping.hpp); the old store keeps the client's text. A statement
// the views cannot answer exactly follows migration.nondeterministic while the old store is
// primary, and is always refused once the new store answers the client.

#include <spdlog/spdlog.h>

#include "journal/reconcile_queue.hpp"
#include "protocol/constants.hpp"
#include "proxy/session/client_session.hpp"
#include "proxy/session/relay_support.hpp"
#include "routing/mapping/statement_mapping.hpp"
#include "routing/phase_rules.hpp"
#include "routing/rewrite/policy_error.hpp"

namespace pgdual::proxy {
namespace {

// The statement a Query or Parse frame carries (`bytes`: the whole frame), and the same frame
// with another text.
struct FrameStatement {
  bool valid = false;
  bool parse = false;
  std::string name, sql;
  std::vector<std::int32_t> param_oids;

  std::string with_text(const std::string& text) const {
    std::string bytes;
    if (parse) {
      protocol::append_parse(bytes, name, text, param_oids);
    } else {
      protocol::append_query(bytes, text);
    }
    return bytes;
  }
};

FrameStatement statement_of(char type, std::string_view bytes) {
  FrameStatement out;
  const auto payload = bytes.substr(std::min(bytes.size(), protocol::kMessageHeaderSize));
  const std::span<const std::uint8_t> data(reinterpret_cast<const std::uint8_t*>(payload.data()),
                                           payload.size());
  if (type == protocol::frontend::kParse) {
    auto parse = protocol::parse_parse(data);
    if (!parse) return out;
    out.parse = true;
    out.name = std::string(parse->name);
    out.sql = std::string(parse->sql);
    out.param_oids = parse->param_oids;
  } else if (type == protocol::frontend::kQuery) {
    auto query = protocol::parse_query(data);
    if (!query) return out;
    out.sql = std::string(*query);
  } else {
    return out;
  }
  out.valid = true;
  return out;
}

}  // namespace

routing::TableResolver ClientSession::table_resolver() {
  return [names = name_context()](std::string_view written) {
    return routing::qualified_table(written, names);
  };
}

bool ClientSession::mapping_applies() const {
  if (config_->mapping.empty()) return false;
  return roles_.primary == routing::Store::new_store ||
         (roles_.secondary && *roles_.secondary == routing::Store::new_store);
}

ClientSession::MappedFrame ClientSession::map_client_frame(const protocol::Frame& frame,
                                                           std::string_view bytes) {
  MappedFrame out;
  // The bytes may be the rewrite's (identical values): read the text from them, not the frame.
  const auto statement = statement_of(frame.type, bytes);
  if (!statement.valid || !routing::may_name_mapped_table(statement.sql, config_->mapping)) {
    return out;
  }
  const bool as_parse = statement.parse;
  const std::string& name = statement.name;
  const bool new_primary = roles_.primary == routing::Store::new_store;
  const auto use = new_primary ? routing::MappingUse::compared : routing::MappingUse::mirrored;
  const auto mapped =
      routing::map_statement_text(statement.sql, config_->mapping, table_resolver(), use);
  auto& metrics = runtime_.metrics().rewrite();
  if (mapped.ok) {
    if (!mapped.changed) return out;
    metrics.mapped().Increment();
    unit_mapping_unreadable_ = unit_mapping_unreadable_ || !mapped.unreadable.empty();
    if (!mapped.unreadable.empty()) unit_mapping_table_ = mapped.table;
    if (as_parse && !name.empty()) {
      // Its executions are units of Bind and Execute alone: they need the verdict too.
      if (mapped.unreadable.empty()) {
        named_mapping_unreadable_.erase(name);
      } else {
        named_mapping_unreadable_[name] = {mapped.table, mapped.unreadable};
      }
    }
    out.new_store_bytes = statement.with_text(mapped.sql);
    return out;
  }
  // DDL that does not reach the new store (migration.ddl primary_only or reject) is the
  // primary's business alone.
  if (mapped.ddl && config_->config.migration.ddl != config::DdlPolicy::mirror) return out;
  const std::string table = mapped.table.empty() ? "(none)" : mapped.table;
  const auto policy = config_->config.migration.nondeterministic;
  // Once the new store answers the client nothing can stand in for its answer.
  if (new_primary || policy == config::Nondeterministic::reject) {
    metrics.count_untranslatable(table, "rejected");
    const std::string reason =
        "this statement cannot be translated to the new store's schema (" + mapped.error + ")" +
        (new_primary ? std::string("; the new store is primary")
                     : std::string("; migration.nondeterministic is \"reject\""));
    FrameStatement refusal = statement;
    refusal.param_oids.clear();
    out.refusal = refusal.with_text(routing::policy_error_statement(reason));
    return out;
  }
  // allow (and serialize, which cannot order a statement the new store cannot run): the new
  // store gets the closest text there is, with the tables renamed (it may fail there, counted as
  // a secondary failure, or differ), and the table is reconciled.
  metrics.count_untranslatable(table, "allowed");
  if (mapped.changed && !mapped.sql.empty()) out.new_store_bytes = statement.with_text(mapped.sql);
  runtime_.metrics().journal().count_reconciliation(
      identity_.database, {table == "(none)" ? std::string(journal::kUnknownTable) : table});
  if (nondeterministic_logged_.size() < 100 &&
      nondeterministic_logged_.insert(table + mapped.error).second) {
    spdlog::warn(
        "statement on mapped table {} sent to the new store untranslated ({}): the table needs "
        "reconciliation",
        table, mapped.error);
  }
  return out;
}

void ClientSession::note_mapped_bind(const protocol::Frame& frame) {
  if (named_mapping_unreadable_.empty()) return;
  auto bind = protocol::parse_bind(frame.payload);
  if (!bind || bind->statement.empty()) return;
  const auto found = named_mapping_unreadable_.find(std::string(bind->statement));
  if (found == named_mapping_unreadable_.end()) return;
  unit_mapping_unreadable_ = true;
  unit_mapping_table_ = found->second.table;
  if (roles_.primary != routing::Store::new_store) return;
  // Prepared while the old store answered, run now that the new store does: its rows come from
  // the view, which cannot give back what the statement reads. Counted and logged (the Parse of
  // a statement prepared now is refused).
  runtime_.metrics().rewrite().count_untranslatable(found->second.table, "allowed");
  if (nondeterministic_logged_.size() < 100 &&
      nondeterministic_logged_.insert(found->first + found->second.why).second) {
    spdlog::warn(
        "prepared statement {} on mapped table {} was prepared before cutover and now reads "
        "the new store, which cannot answer it exactly ({})",
        found->first, found->second.table, found->second.why);
  }
}

std::string ClientSession::secondary_state_replay() {
  // The session's prepared statements and settings are kept in the client's text (for the old
  // store); a new store that follows gets them pointed at its views, as it got them first.
  std::string replay = units_->session_state_replay();
  const bool to_new_store = roles_.secondary && *roles_.secondary == routing::Store::new_store;
  if (replay.empty() || config_->mapping.empty() || !to_new_store) return replay;
  const auto resolve = table_resolver();
  std::string mapped;
  for_each_frame(replay, [&](const protocol::Frame& frame) {
    const auto raw = raw_frame(frame);
    const auto statement = statement_of(frame.type, raw);
    const auto translated =
        statement.valid ? routing::map_statement_text(statement.sql, config_->mapping, resolve,
                                                      routing::MappingUse::mirrored)
                        : routing::MappedStatement{};
    if (translated.changed && !translated.sql.empty()) {
      mapped += statement.with_text(translated.sql);
    } else {
      mapped.append(raw);
    }
  });
  return mapped;
}

}  // namespace pgdual::proxy
