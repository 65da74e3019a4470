#pragma once
// One client connection, from the first byte to the last: startup and TLS
// negotiation, authentication, backend connections, then the relay. A
// session lives on one worker thread with its backend connections, so
// nothing in it takes a lock.
//
// The relay (session_relay.cpp) forwards the client's messages to the
// primary and, per the migration phase, to the secondary (secondary_leg),
// and the primary's replies to the client. session_outcomes.cpp compares
// what the two stores did with each mirrored unit.
//
// One unit's path: pump_client -> relay_client_frame -> end_client_unit ->
// dispatch_unit (session_dispatch.cpp) -> [sync COMMIT: hold_commit_for_secondary]
// -> send_client_bytes; then pump_primary -> on_client_unit_reply ->
// on_client_ready_for_query -> finish_primary_unit (session_finish_unit.cpp).

#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "journal/record/record.hpp"
#include "protocol/constants.hpp"
#include "protocol/messages.hpp"
#include "protocol/startup.hpp"
#include "proxy/backend/backend_connection.hpp"
#include "proxy/backend/primary_leg.hpp"
#include "proxy/backend/secondary_leg.hpp"
#include "proxy/net/cancel_registry.hpp"
#include "proxy/net/frame_reader.hpp"
#include "proxy/net/pg_stream.hpp"
#include "proxy/server/runtime.hpp"
#include "proxy/session/commit_ticket.hpp"
#include "proxy/session/transaction_capture.hpp"
#include "proxy/shadow/shadow_reads.hpp"
#include "routing/accepted_prefix.hpp"
#include "routing/mapping/statement_mapping.hpp"
#include "routing/phase_rules.hpp"
#include "routing/rewrite/pipeline.hpp"
#include "routing/unit_builder.hpp"

namespace pgdual::proxy {

class ClientSession : public std::enable_shared_from_this<ClientSession> {
 public:
  ClientSession(tcp::socket socket, Runtime& runtime);
  ~ClientSession();

  boost::asio::awaitable<void> run();

  // Graceful shutdown: closes the session at once if it is idle, otherwise
  // as soon as its transaction ends. Call on the session's executor.
  void request_drain();

 private:
  using Clock = std::chrono::steady_clock;
  enum class StartupOutcome { proceed, done };

  // client_session.cpp: startup
  // What to do with one startup-phase packet (decided without I/O).
  struct StartupStep {
    enum class Action { close, refuse, cancel, answer_no, start_tls, startup };
    Action action = Action::close;
    protocol::ErrorFields error;
    protocol::StartupPacket packet;
  };
  StartupStep next_startup_step(FrameReader::Status status);
  boost::asio::awaitable<bool> start_client_tls();
  boost::asio::awaitable<bool> start_and_connect();
  boost::asio::awaitable<StartupOutcome> negotiate_startup();
  boost::asio::awaitable<void> handle_cancel_request(const protocol::StartupPacket& packet);
  boost::asio::awaitable<bool> connect_backends();
  // connect_backends' steps: the relay's first count of a new database, the client's error when
  // the primary cannot be reached, the secondary per on_secondary_failure (false: refused).
  boost::asio::awaitable<void> wait_for_first_journal_look();
  boost::asio::awaitable<void> report_primary_failure(const BackendFailure& failure);
  boost::asio::awaitable<bool> connect_secondary_at_startup();
  boost::asio::awaitable<std::unique_ptr<BackendConnection>> open_backend(routing::Store store,
                                                                          BackendFailure& failure);
  boost::asio::awaitable<void> send_startup_reply();
  boost::asio::awaitable<void> send_error(const protocol::ErrorFields& error);
  boost::asio::awaitable<void> send_fatal(std::string_view sqlstate, std::string_view message);
  StartupParameters backend_parameters(const config::BackendConfig& backend,
                                       routing::Store store) const;
  void align_with_primary(StartupParameters& parameters) const;
  void register_cancel_targets();
  void close_all();

  // session_relay.cpp: the pumps, run together
  boost::asio::awaitable<void> relay();
  boost::asio::awaitable<void> pump_secondary();
  boost::asio::awaitable<void> finish_primary_after_terminate();
  bool idle() const { return primary_leg_.idle(); }
  bool secondary_usable() const { return secondary_ && !secondary_->broken(); }

  // session_boundary.cpp: between transactions
  bool at_boundary() const;
  // True when the pumps must restart (other connections, or the catalog to fetch).
  boost::asio::awaitable<bool> take_boundary_configuration();
  void take_latest_config();
  boost::asio::awaitable<bool> refresh_phase_at_boundary();
  boost::asio::awaitable<bool> switch_primary(routing::PhaseRoles roles);
  void drop_secondary();
  boost::asio::awaitable<bool> connect_secondary(routing::Store store);

  // session_fleet.cpp: the fleet flip's hold on new transactions, and its refusals.
  boost::asio::awaitable<void> enter_fleet_transaction();
  boost::asio::awaitable<void> settle_shadow_cancel();
  void leave_fleet_transaction();
  std::string fleet_writes_refused();  // "" or why writes are refused

  // session_pump_client.cpp: client -> primary. The coroutines returning bool return false
  // when a connection failed (the pump ends).
  struct ClientRelayModes {
    bool mirroring = false;  // the secondary's bytes are collected (secondary or journal)
    bool shadow_aa = false;  // the unit's bytes are kept for an A/A re-run
    bool rewriting = false;  // statements are rewritten for identical values
    bool mapping = false;    // the new store's copy goes through migration.mapping's views
  };
  enum class FrameStep { next, terminate, stop };
  boost::asio::awaitable<void> pump_client();
  ClientRelayModes client_relay_modes();
  boost::asio::awaitable<FrameStep> relay_client_frame(const protocol::Frame& frame,
                                                       const ClientRelayModes& modes);
  void open_client_unit();
  boost::asio::awaitable<std::optional<std::string>> rewrite_client_frame(
      const protocol::Frame& frame);
  boost::asio::awaitable<bool> end_client_unit();
  boost::asio::awaitable<bool> send_client_bytes(bool rewriting);
  boost::asio::awaitable<void> close_on_framing_error();

  // session_dispatch.cpp: a complete unit, as it is sent
  void dispatch_unit();
  void describe_unit(PrimaryUnit& unit, const routing::UnitFacts& facts);
  void decide_unit(PrimaryUnit& unit, const routing::UnitFacts& facts);
  // Strategy cdc (session_cdc.cpp).
  bool cdc() const;
  std::string cdc_writes_refused();  // "" or why writes are refused (cutover, no reverse)
  boost::asio::awaitable<void> wait_for_cdc_health();
  void decide_cdc_unit(PrimaryUnit& unit, const routing::UnitFacts& facts);
  void begin_cdc_secondary_transaction(const PrimaryUnit& unit, protocol::TxnStatus status_before);
  void track_cdc_transaction(PrimaryUnit& unit, const routing::UnitFacts& facts);
  // cdc.wait: commit: "" once the new store applied the commit (or when the wait failed under
  // on_secondary_failure: continue); an ErrorResponse for the client under fail.
  boost::asio::awaitable<std::string> wait_cdc_commit();
  void detach_overflowing_secondary(routing::MirrorMode mode);
  void send_unit_on_route(PrimaryUnit& unit, metrics::QueryKind kind, bool capture,
                          protocol::TxnStatus status_before);
  bool unit_runs_copy() const;

  // session_commit.cpp: strategy sync, before the primary commits
  boost::asio::awaitable<bool> hold_commit_for_secondary(UnitId commit_unit);
  boost::asio::awaitable<bool> catch_up_before_commit(UnitId commit_unit);
  boost::asio::awaitable<bool> fail_refused_transaction();

  // session_sync_order.cpp: sync, an autocommit write holds the primary's locks until the
  // secondary applied it (routing/sync_order.hpp)
  bool sync_order_candidate() const;
  void order_autocommit_write(PrimaryUnit& unit, protocol::TxnStatus status_before);
  boost::asio::awaitable<bool> hold_wrapper_commit(UnitId wrapped_unit);
  void on_wrapper_commit_refused(const PrimaryUnit& unit);

  // session_pump_primary.cpp: primary -> client (false: a connection failed)
  boost::asio::awaitable<void> pump_primary();
  boost::asio::awaitable<bool> on_own_statement_reply(const protocol::Frame& frame,
                                                      PrimaryUnit& unit);
  boost::asio::awaitable<bool> on_wrapper_committed(const PrimaryUnit& unit);
  boost::asio::awaitable<bool> on_client_unit_reply(const protocol::Frame& frame, PrimaryUnit& unit,
                                                    config::Strategy strategy);
  boost::asio::awaitable<bool> forward_trimmed_parameters(const protocol::Frame& frame,
                                                          std::size_t keep);
  boost::asio::awaitable<bool> on_client_ready_for_query(const protocol::Frame& frame,
                                                         PrimaryUnit& unit,
                                                         config::Strategy strategy);
  boost::asio::awaitable<bool> forward_replies_before_ready();

  // session_finish_unit.cpp: a client unit's ReadyForQuery
  boost::asio::awaitable<void> finish_primary_unit(protocol::TxnStatus status);
  // A write's latency as the client saw it, for the cutover gate; under cdc.wait: commit it is
  // recorded only once the commit wait ended (record_deferred_write_latency).
  void record_write_latency(bool is_write, Clock::time_point sent, double primary_seconds);
  void record_deferred_write_latency();
  PrimaryUnit take_finished_unit(protocol::TxnStatus status);
  // True when the secondary got the statements the primary completed of a unit it rejected.
  boost::asio::awaitable<bool> settle_mirrored_unit(const PrimaryUnit& unit,
                                                    protocol::TxnStatus status,
                                                    const routing::AcceptedPrefix* accepted);
  void compare_or_await_secondary(PrimaryUnit unit, protocol::TxnStatus status,
                                  bool accepted_prefix_sent);
  // session_commit_order.cpp: under sync, other sessions' commits reach the secondary first
  bool keeps_commit_order() const;
  void watch_commit_order();
  void open_commit_ticket(UnitId unit);
  SecondaryLeg::CommitGate commit_gate(UnitId unit) const;
  void close_commit_tickets_through(UnitId unit);
  void on_commit_order_blocked(SecondaryLeg::CommitGate gate);
  // session_copy_buffer.cpp: a COPY's data held for the secondary past limits.max_copy_buffer
  boost::asio::awaitable<void> bound_copy_buffer();
  // session_partial_units.cpp: a unit the primary rejected partway inside a transaction
  std::optional<routing::AcceptedPrefix> accepted_part_of(const PrimaryUnit& unit);
  boost::asio::awaitable<void> wait_secondary_before_ready(UnitId unit, protocol::TxnStatus status);
  boost::asio::awaitable<void> report_secondary_rejection(UnitId unit);

  // session_catalog.cpp: the primary's catalog facts and the search_path
  std::string catalog_key() const;
  bool search_path_needed() const;
  bool catalog_refresh_due();
  boost::asio::awaitable<void> load_catalog();
  // The primary's search_path as the session starts (role and database defaults applied).
  boost::asio::awaitable<void> learn_search_path();
  // auth.method trust: false (and the client refused) when its user is no role on the primary.
  boost::asio::awaitable<bool> client_role_exists();
  void track_search_path(const routing::StatementInfo& statement, const std::string& text);
  routing::NameContext name_context() const;

  // session_shadow.cpp: shadow reads, a hook (proxy/shadow/shadow_reads.hpp) fed at dispatch,
  // when the primary's reply is complete, when the other run's is, and when a leg breaks.
  class ShadowLegView final : public shadow::ShadowLegs {
   public:
    explicit ShadowLegView(ClientSession& session) : session_(session) {}
    bool secondary_usable() const override { return session_.secondary_usable(); }
    void rerun_on_primary(UnitId unit, std::shared_ptr<shadow::ResultCapture> capture) override;
    void run_on_secondary(UnitId unit, std::shared_ptr<shadow::ResultCapture> capture) override;

   private:
    ClientSession& session_;
  };
  std::unique_ptr<shadow::ShadowReads> make_shadow_reads();
  void start_shadow(PrimaryUnit& unit, const routing::UnitFacts& facts);
  boost::asio::awaitable<void> shadow_watchdog();

  // session_mapping.cpp: migration.mapping (docs/schema-mapping.md)
  struct MappedFrame {
    std::optional<std::string> new_store_bytes;  // the new store's Query/Parse, when it differs
    std::optional<std::string> refusal;          // both stores get this error statement instead
  };
  bool mapping_applies() const;
  // Unqualified table names resolved as the session's search_path does.
  routing::TableResolver table_resolver();
  MappedFrame map_client_frame(const protocol::Frame& frame, std::string_view bytes);
  // The session's prepared statements and settings for a secondary connection or a journal
  // record, in the text that store gets (UnitBuilder::session_state_replay, mapped when the
  // secondary is the new store under migration.mapping).
  std::string secondary_state_replay();
  // A Bind of a named statement whose mapped text reads what the new store cannot give back.
  void note_mapped_bind(const protocol::Frame& frame);
  struct MappingVerdict {
    std::string table, why;
  };
  std::unordered_map<std::string, MappingVerdict> named_mapping_unreadable_;

  // session_rewrite.cpp: identical values on both stores
  const routing::ColumnDefaults& session_defaults();
  bool rewrite_candidate();
  std::optional<std::string> handle_nondeterministic(bool as_parse, std::string_view name,
                                                     const std::string& why);
  boost::asio::awaitable<std::optional<std::vector<std::optional<std::string>>>>
  fetch_primary_values(std::string sql, std::chrono::seconds timeout);
  boost::asio::awaitable<std::optional<routing::RewriteValues>> values_for_execution(
      const routing::RewriteAnalysis& analysis, bool may_ask_primary, std::string& why);
  void count_rewrite(const routing::RewriteAnalysis& analysis);
  std::optional<std::string> rewrite_named_parse(
      const std::string& name, const std::string& sql, const std::vector<std::int32_t>& param_oids,
      std::shared_ptr<const routing::RewriteAnalysis> analysis);
  boost::asio::awaitable<std::optional<std::string>> rewrite_frame(const protocol::Frame& frame);
  boost::asio::awaitable<std::optional<std::string>> rewrite_bind(const protocol::Frame& frame);
  void track_rewritten_statements(const protocol::Frame& frame);
  boost::asio::awaitable<void> take_serialize_lock();
  boost::asio::awaitable<void> wait_primary_values(
      const PrimaryValues& request, std::chrono::seconds timeout = std::chrono::seconds(30));
  PrimaryUnit values_unit(const std::shared_ptr<PrimaryValues>& request);
  static std::optional<std::vector<std::optional<std::string>>> single_row(
      const PrimaryValues& request);
  boost::asio::awaitable<bool> release_serialize_locks();

  // session_journal.cpp: the replay journal and the outbox
  bool journal_enabled() const;
  bool outbox() const { return config_->config.migration.strategy == config::Strategy::outbox; }
  // The session's writes go to the journal instead of the secondary now.
  bool journal_mode() const;
  // True when the unit's transaction goes to the journal instead of the secondary.
  bool capture_unit(const PrimaryUnit& unit, bool transaction_start);
  std::vector<std::string> replay_settings() const;
  void outbox_in_band(PrimaryUnit& unit, protocol::TxnStatus status_before);
  std::optional<journal::JournalRecord> journal_record(const TransactionCapture& capture);
  void journal_capture(TransactionCapture capture, std::string reason);
  boost::asio::awaitable<void> end_capture(const PrimaryUnit& unit, bool committed);
  void mark_capture_failed(UnitId unit, const std::string& reason, const std::string& sqlstate);
  void resolve_unconfirmed(UnitId unit);
  void journal_unconfirmed(const std::string& reason);
  void ask_secondary_xid(UnitId commit_unit);
  std::string replay_marker(const TransactionCapture& capture) const;
  boost::asio::awaitable<void> wait_journal_appends();
  void announce_async_write(const PrimaryUnit& unit);
  void leave_journaled_transaction();
  // Bytes for the client: a WARNING when an outbox INSERT failed.
  std::string on_journal_statement_error(PrimaryUnit& unit, std::span<const std::uint8_t> payload);

  // session_outcomes.cpp: comparing the stores, failures
  void on_secondary_result(const SecondaryResult& result);
  void compare(const PrimaryOutcome& primary, const SecondaryResult& secondary);
  void on_secondary_only_rejection(const PrimaryOutcome& primary, const SecondaryResult& secondary);
  // Exact or loud: a write the secondary may not get as the primary had it. Counts each table
  // (or "(unknown)") in pgdual_drift_risk_total{reason} and for reconciliation; returns them.
  std::vector<std::string> count_drift_risk(const std::vector<std::string>& tables,
                                            std::string_view reason);
  void record_unmirrored_write(const std::string& reason, const std::string& text,
                               const std::vector<std::string>& tables, const std::string& sqlstate);
  void on_secondary_broken();
  boost::asio::awaitable<void> let_secondary_finish();
  void on_session_end();
  void report_secondary_depth();

  PgStream client_;
  FrameReader client_reader_;
  bool admin_console_ = false;  // the client asked for admin.database and is an admin user
  Runtime& runtime_;
  std::shared_ptr<const RuntimeConfig> config_;
  protocol::StartupPacket startup_;
  routing::SessionIdentity identity_;
  config::Phase phase_ = config::Phase::prepare;
  routing::PhaseRoles roles_;

  std::unique_ptr<BackendConnection> primary_;
  std::unique_ptr<SecondaryLeg> secondary_;
  std::unique_ptr<routing::UnitBuilder> units_;
  std::optional<CancelKey> cancel_key_;

  PrimaryLeg primary_leg_;
  std::unordered_map<UnitId, PrimaryOutcome> awaiting_secondary_;
  std::unordered_map<UnitId, protocol::ErrorFields>
      secondary_rejections_;  // for on_secondary_failure: fail
  UnitId next_unit_ = 1;
  std::pair<UnitId, routing::MirrorMode> copy_route_{0, routing::MirrorMode::none};
  std::string primary_out_;
  std::string secondary_unit_bytes_;
  std::size_t unit_start_ = 0;  // where the unit being built starts in primary_out_
  bool unit_open_ = false;
  std::optional<UnitId> catch_up_for_;  // a COMMIT unit waiting for the secondary to catch up
  std::optional<UnitId> wrapper_commit_after_;    // sync: pgdual's COMMIT waits for this unit
  std::unordered_set<std::string> drift_logged_;  // reasons logged once per session
  // A write of the open transaction that only the secondary refused.
  std::optional<protocol::ErrorFields> transaction_secondary_error_;
  std::vector<std::string> transaction_write_tables_;  // written in the open transaction
  // The primary's transaction status after the units sent so far (primary_leg_ has the one
  // its last ReadyForQuery reported).
  protocol::TxnStatus predicted_status_ = protocol::TxnStatus::idle;
  bool reconfigure_ = false;  // the relay restarts with other connections
  Clock::time_point next_secondary_attempt_{};
  std::chrono::milliseconds secondary_backoff_{0};
  double reported_secondary_depth_ = 0;  // this session's share of the depth gauges
  std::shared_ptr<const routing::CatalogFacts> catalog_;
  std::uint64_t catalog_generation_ = 0;
  Clock::time_point catalog_retry_after_{};
  bool catalog_refresh_pending_ = false;  // the relay fetches it before restarting the pumps
  bool transaction_had_ddl_ = false;      // the catalog goes stale when it commits
  bool defer_write_latency_ = false;      // the unit's ReadyForQuery waits for cdc replication
  std::optional<std::pair<Clock::time_point, double>> deferred_write_latency_;
  // Strategy cdc: pgdual opened a transaction on the secondary for DDL in the client's block;
  // the open transaction wrote rows (its end waits under cdc.wait: commit).
  bool cdc_secondary_in_transaction_ = false;
  bool cdc_transaction_wrote_ = false;
  int cdc_wait_logged_ = 0;  // failed commit waits logged by this session (at most 10)
  std::vector<std::string> initial_search_path_, search_path_;
  bool search_path_known_ = false;
  std::string initial_search_path_setting_;  // as current_setting('search_path') said it
  std::shared_ptr<routing::CommitHorizon> commit_horizon_;
  std::map<UnitId, CommitTicket> commit_tickets_;  // this session's commits not yet answered
  bool commit_wake_pending_ = false;
  std::size_t copy_bytes_held_ = 0;   // the current COPY's data queued for the secondary
  std::string pending_client_bytes_;  // asynchronous messages that arrived during startup
  ShadowLegView shadow_legs_{*this};
  std::unique_ptr<shadow::ShadowReads> shadow_reads_ = make_shadow_reads();
  std::string shadow_aa_bytes_;  // A/A: the unit's bytes, re-run on the primary after it
  std::unique_ptr<boost::asio::steady_timer> shadow_timer_;
  bool shadow_cancelling_ = false;
  bool in_fleet_transaction_ = false;  // counted in the fleet hold (session_fleet.cpp)
  bool primary_behind_ = false;        // the phase wants the other primary; the switch waits  // no
                                       // reconfiguration until the cancel is delivered
  std::unique_ptr<routing::RewriteCache> rewrite_cache_;
  routing::RewritePipeline rewrite_pipeline_ = routing::RewritePipeline::for_store();
  routing::ColumnDefaults session_defaults_;
  std::vector<std::string> volatile_function_list_;
  const routing::CatalogFacts* defaults_catalog_ = nullptr;  // what session_defaults_ is built from
  std::vector<std::string> defaults_path_;
  std::optional<std::string> transaction_timestamp_;  // the primary's now() of the open transaction
  std::unique_ptr<boost::asio::steady_timer> primary_progress_;
  bool primary_gone_ = false;
  std::unordered_set<std::string> nondeterministic_logged_;
  std::string rewrite_table_;  // the table the frame being rewritten writes, for metrics
  // The open unit reads a column the new store does not keep: no shadow read of it.
  bool unit_mapping_unreadable_ = false;
  std::string unit_mapping_table_;
  // Named prepared statements rewritten in parameter mode: their Binds carry extra values.
  struct NamedRewrite {
    std::shared_ptr<const routing::RewriteAnalysis> analysis;
    std::size_t client_parameters = 0;
  };
  std::unordered_map<std::string, NamedRewrite> named_rewrites_;
  // Named prepared statements that cannot be rewritten: migration.nondeterministic applies at
  // each execution.
  struct NamedUnrewritable {
    std::string table, why;
  };
  std::unordered_map<std::string, NamedUnrewritable> named_unrewritable_;
  // One per Describe of a statement, in order: how many parameters its ParameterDescription
  // shows the client (nullopt: all of them).
  struct ParameterTrim {
    UnitId unit = 0;
    std::optional<std::size_t> keep;
  };
  std::deque<ParameterTrim> parameter_trims_;
  bool unit_bytes_flushed_ = false;  // part of the open unit went to the primary already
  bool unit_has_flush_ = false;      // the open unit holds a Flush: its bytes cannot wait
  // migration.nondeterministic: serialize. The lock the current statement wants, and the
  // session-level advisory locks held on the primary until the transaction is done on both.
  std::optional<std::int64_t> serialize_lock_wanted_;
  std::vector<std::int64_t> serialize_locks_;
  bool drain_requested_ = false;
  bool relay_done_ = false;  // the client is gone; only the secondary's leftovers remain
  bool counted_ = false;
  // session_journal.cpp
  TransactionCapture open_capture_;
  bool capturing_ = false;
  bool journaling_tx_ = false;  // the open transaction goes to the journal
  bool entered_journal_gate_ =
      false;  // journal::JournalService::enter_journaled() is ours to leave
  bool secondary_missed_units_ = false;    // the leg did not get every unit: reconnect before reuse
  bool copy_captured_ = false;             // CopyData of the last unit belongs to the capture
  bool wrapped_statement_failed_ = false;  // outbox: the wrapped statement itself failed
  std::optional<protocol::ErrorFields> outbox_insert_error_;  // outbox: pgdual's INSERT failed
  std::deque<TransactionCapture>
      unconfirmed_;  // committed on the primary, not yet on the secondary
  struct AppendTracker;
  std::shared_ptr<AppendTracker> appends_;
};

}  // namespace pgdual::proxy
