// What a session knows about the primary's catalog and its own search_path,
// for routing (routing/classify/catalog_facts.hpp): fetched in band at startup and,
// when stale, at a transaction boundary with the relay's pumps stopped.

#include <spdlog/spdlog.h>

#include "proxy/backend/internal_query.hpp"
#include "proxy/session/client_session.hpp"
#include "routing/mapping/schema_mapping.hpp"
#include "text/sql_quote.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

std::string ClientSession::catalog_key() const {
  const auto& backend = primary_->config();
  const std::string database = backend.dbname.value_or(startup_.database());
  return std::string(primary_->role() == metrics::BackendRole::old_backend ? "old/" : "new/") +
         database;
}

bool ClientSession::search_path_needed() const {
  // Table overrides resolve names through it; a journal record recreates it for the replay.
  return !search_path_known_ &&
         (!config_->config.migration.tables.empty() ||
          (config_->config.migration.journal.enabled && roles_.secondary.has_value()));
}

bool ClientSession::catalog_refresh_due() {
  if (search_path_needed()) return true;
  if (Clock::now() < catalog_retry_after_) return false;
  const auto generation = runtime_.catalogs().generation();
  if (generation == catalog_generation_) return false;
  bool claim = false;
  auto facts = runtime_.catalogs().get(catalog_key(), claim);
  catalog_generation_ = generation;
  if (facts) catalog_ = std::move(facts);
  if (claim) runtime_.catalogs().abandon_refresh(catalog_key());  // claimed again in load_catalog
  return claim;
}

asio::awaitable<bool> ClientSession::client_role_exists() {
  // Under trust the session runs as pgdual's backend user, but PostgreSQL with trust still
  // refuses a user that is no role (28000): so does pgdual, rather than let any name in.
  if (config_->config.auth.method != config::AuthMethod::trust) co_return true;
  const std::string user = startup_.parameter("user").value_or("");
  auto result = co_await run_internal_query(
      *primary_, "SELECT 1 FROM pg_catalog.pg_roles WHERE rolname = " + text::quote_literal(user));
  pending_client_bytes_.append(result.for_client);
  if (!result.ok) {
    spdlog::warn("could not check the client's role on the primary: {}",
                 result.error ? result.error->message : std::string("connection lost"));
    co_await send_fatal("08006", "pgdual could not check the role on the primary");
    co_return false;
  }
  if (!result.rows.empty()) co_return true;
  runtime_.metrics().client_connections_rejected(metrics::RejectReason::auth_failed).Increment();
  spdlog::info("refused a client: role \"{}\" does not exist on the primary", user);
  co_await send_fatal("28000", "role \"" + user + "\" does not exist");
  co_return false;
}

asio::awaitable<void> ClientSession::load_catalog() {
  const std::string key = catalog_key();
  auto& cache = runtime_.catalogs();
  catalog_generation_ = cache.generation();
  bool claim = false;
  auto facts = cache.get(key, claim);
  if (claim || !facts) {
    std::string sql = routing::kCatalogQuery;
    auto result = co_await run_internal_query(*primary_, std::move(sql));
    pending_client_bytes_.append(result.for_client);
    runtime_.metrics().catalog_refreshes(result.ok).Increment();
    if (result.ok) {
      auto read = routing::catalog_facts_from_rows(result.rows);
      if (roles_.primary == routing::Store::new_store && !config_->mapping.empty()) {
        routing::alias_mapped_tables(read, config_->mapping);
      }
      facts = std::make_shared<const routing::CatalogFacts>(std::move(read));
      cache.store(key, facts);
      catalog_generation_ = cache.generation();
    } else {
      // Routing goes on without the facts: reads calling user functions are
      // not mirrored and unqualified tables resolve to the path's first schema.
      if (claim) cache.abandon_refresh(key);
      catalog_retry_after_ = Clock::now() + std::chrono::seconds(30);
      spdlog::warn("could not read the primary's catalog for routing: {}",
                   result.error ? result.error->message : std::string("connection lost"));
    }
  }
  if (facts) catalog_ = std::move(facts);
  if (outbox() && config_->config.migration.journal.enabled && roles_.secondary &&
      !runtime_.journal().schema_ready(key)) {
    // The outbox inserts its records on this connection: its tables must exist first.
    auto result = co_await run_internal_query(*primary_, runtime_.journal().schema_sql());
    pending_client_bytes_.append(result.for_client);
    if (result.ok) {
      runtime_.journal().note_schema_ready(key);
    } else {
      spdlog::error("outbox: cannot create the journal tables on the primary: {}",
                    result.error ? result.error->message : std::string("connection lost"));
    }
  }
  if (search_path_needed()) co_await learn_search_path();
}

asio::awaitable<void> ClientSession::learn_search_path() {
  std::string sql = "SELECT pg_catalog.current_setting('search_path')";
  auto result = co_await run_internal_query(*primary_, std::move(sql));
  pending_client_bytes_.append(result.for_client);
  if (result.ok && result.rows.size() == 1 && result.rows[0].size() == 1 && result.rows[0][0]) {
    initial_search_path_setting_ = *result.rows[0][0];
    initial_search_path_ = routing::parse_search_path(initial_search_path_setting_);
  } else {
    initial_search_path_setting_ = "\"$user\", public";
    initial_search_path_ = {"$user", "public"};  // PostgreSQL's default
  }
  search_path_ = initial_search_path_;
  search_path_known_ = true;
}

void ClientSession::track_search_path(const routing::StatementInfo& statement,
                                      const std::string& text) {
  if (!search_path_known_ || statement.is_local) return;
  const bool resets_all = statement.command == "DISCARD ALL" ||
                          (statement.command == "RESET" && statement.name.empty());
  if (!resets_all && statement.name != "search_path") return;
  if (resets_all || statement.command == "RESET") {
    search_path_ = initial_search_path_;
    return;
  }
  if (statement.command != "SET") return;
  if (auto path = routing::search_path_from_set(text)) {
    search_path_ = path->empty() ? initial_search_path_ : std::move(*path);
  }
}

routing::NameContext ClientSession::name_context() const {
  return {catalog_.get(), search_path_known_ ? &search_path_ : nullptr,
          primary_->config().user.empty() ? std::string_view(identity_.user)
                                          : std::string_view(primary_->config().user)};
}

}  // namespace pgdual::proxy
