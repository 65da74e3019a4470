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

bool ClientSession::mapping_applies() const {
  if (config_->mapping.empty()) return false;
  return roles_.primary == routing::Store::new_store ||
         (roles_.secondary && *roles_.secondary == routing::Store::new_store);
}

ClientSession::MappedFrame ClientSession::map_client_frame(const protocol::Frame& frame,
                                                           std::string_view bytes) {
  MappedFrame out;
  const bool as_parse = frame.type == protocol::frontend::kParse;
  if (!as_parse && frame.type != protocol::frontend::kQuery) return out;
  // The bytes may be the rewrite's (identical values): read the text from them, not the frame.
  std::string name, sql;
  std::vector<std::int32_t> param_oids;
  const auto payload = std::string_view(bytes).substr(5);
  const auto* data = reinterpret_cast<const std::uint8_t*>(payload.data());
  if (as_parse) {
    auto parse = protocol::parse_parse({data, payload.size()});
    if (!parse) return out;
    name = std::string(parse->name);
    sql = std::string(parse->sql);
    param_oids = parse->param_oids;
  } else {
    auto query = protocol::parse_query({data, payload.size()});
    if (!query) return out;
    sql = std::string(*query);
  }
  if (!routing::may_name_mapped_table(sql, config_->mapping)) return out;
  const auto names = name_context();
  const routing::TableResolver resolve = [&names](std::string_view written) {
    return routing::qualified_table(written, names);
  };
  const bool new_primary = roles_.primary == routing::Store::new_store;
  const auto use = new_primary ? routing::MappingUse::compared : routing::MappingUse::mirrored;
  const auto mapped = routing::map_statement_text(sql, config_->mapping, resolve, use);
  auto& metrics = runtime_.metrics().rewrite();
  const auto new_store_frame = [&](const std::string& text) {
    std::string bytes;
    if (as_parse) {
      protocol::append_parse(bytes, name, text, param_oids);
    } else {
      protocol::append_query(bytes, text);
    }
    return bytes;
  };
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
    out.new_store_bytes = new_store_frame(mapped.sql);
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
    std::string refusal;
    if (as_parse) {
      protocol::append_parse(refusal, name, routing::policy_error_statement(reason), {});
    } else {
      protocol::append_query(refusal, routing::policy_error_statement(reason));
    }
    out.refusal = std::move(refusal);
    return out;
  }
  // allow (and serialize, which cannot order a statement the new store cannot run): the new
  // store gets the closest text there is, with the tables renamed (it may fail there, counted as
  // a secondary failure, or differ), and the table is reconciled.
  metrics.count_untranslatable(table, "allowed");
  if (mapped.changed && !mapped.sql.empty()) out.new_store_bytes = new_store_frame(mapped.sql);
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
  const auto names = name_context();
  const routing::TableResolver resolve = [&names](std::string_view written) {
    return routing::qualified_table(written, names);
  };
  std::string mapped;
  for_each_frame(replay, [&](const protocol::Frame& frame) {
    const auto raw = raw_frame(frame);
    std::string sql, name;
    std::vector<std::int32_t> param_oids;
    if (frame.type == protocol::frontend::kParse) {
      if (auto parse = protocol::parse_parse(frame.payload)) {
        sql = std::string(parse->sql);
        name = std::string(parse->name);
        param_oids = parse->param_oids;
      }
    } else if (frame.type == protocol::frontend::kQuery) {
      if (auto query = protocol::parse_query(frame.payload)) sql = std::string(*query);
    }
    const auto translated = sql.empty()
                                ? routing::MappedStatement{}
                                : routing::map_statement_text(sql, config_->mapping, resolve,
                                                              routing::MappingUse::mirrored);
    if (!translated.changed || translated.sql.empty()) {
      mapped.append(raw);
    } else if (frame.type == protocol::frontend::kParse) {
      protocol::append_parse(mapped, name, translated.sql, param_oids);
    } else {
      protocol::append_query(mapped, translated.sql);
    }
  });
  return mapped;
}

}  // namespace pgdual::proxy
