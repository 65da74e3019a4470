#include "proxy/session/client_session.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/connect.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "protocol/constants.hpp"
#include "proxy/admin/console/admin_console.hpp"
#include "proxy/auth/client_auth.hpp"
#include "proxy/net/cancel_sender.hpp"
#include "proxy/net/use_tuple.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
using namespace asio::experimental::awaitable_operators;

ClientSession::ClientSession(tcp::socket socket, Runtime& runtime)
    : client_(std::move(socket)),
      client_reader_(client_, 0, true),
      runtime_(runtime),
      config_(runtime.config()) {
  client_reader_.set_max_message_size(config_->config.limits.max_message_size);
}

ClientSession::~ClientSession() {
  leave_fleet_transaction();
  if (cancel_key_) runtime_.cancels().unregister(*cancel_key_);
  if (primary_) runtime_.metrics().backend(primary_->role()).connections->Decrement();
  if (secondary_) {
    runtime_.metrics().backend(secondary_->connection().role()).connections->Decrement();
  }
  if (counted_) {
    runtime_.client_count().fetch_sub(1);
    runtime_.metrics().client_connections().Decrement();
  }
}

asio::awaitable<void> ClientSession::send_error(const protocol::ErrorFields& error) {
  std::string bytes;
  protocol::append_error_response(bytes, error);
  co_await client_.write_all(bytes);
}

// GCC 12 mishandles non-trivial temporaries inside a co_await expression (they may be destroyed
// twice). Every FATAL goes through here: its arguments are views (trivially destructible, so a
// call with literals is safe), and the error is a named local of this coroutine. A caller that
// builds its message keeps it in a named local too.
asio::awaitable<void> ClientSession::send_fatal(std::string_view sqlstate,
                                                std::string_view message) {
  const auto fatal = protocol::make_error(std::string(sqlstate), std::string(message), "FATAL");
  co_await send_error(fatal);
}

void ClientSession::close_all() {
  client_.close();
  if (primary_) primary_->stream().close();
  if (secondary_) secondary_->connection().stream().close();
}

void ClientSession::request_drain() {
  drain_requested_ = true;
  // After the relay, the session only lets the secondary finish what the primary already did
  // (bounded by secondary_timeout) and ends by itself: closing it now would cut that off, and
  // an async write would reach the new store only at the next start, through the journal.
  if (relay_done_) return;
  // An admin console holds no transaction: it ends at once, like an idle session.
  if (admin_console_ || (primary_ && idle())) {
    // Tell the client why, as PostgreSQL does on a fast shutdown, then close.
    auto self = shared_from_this();
    asio::co_spawn(
        client_.socket().get_executor(),
        [self]() -> asio::awaitable<void> {
          co_await self->send_fatal("57P01", "terminating connection due to administrator command");
          self->close_all();
        },
        asio::detached);
  }
}

asio::awaitable<void> ClientSession::run() {
  auto& metrics = runtime_.metrics();
  metrics.client_connections_total().Increment();
  const auto& limits = config_->config.limits;
  const std::size_t count = runtime_.client_count().fetch_add(1) + 1;
  counted_ = true;
  metrics.client_connections().Increment();
  if (runtime_.draining()) {
    metrics.client_connections_rejected(metrics::RejectReason::shutting_down).Increment();
    co_await send_fatal("57P03", "the database system is shutting down");
    co_return;
  }
  if (count > limits.max_client_connections) {
    metrics.client_connections_rejected(metrics::RejectReason::too_many_connections).Increment();
    co_await send_fatal("53300", "sorry, too many clients already");
    co_return;
  }

  // Everything before the relay must finish within startup_timeout, so a
  // client that stalls cannot hold a connection slot forever.
  asio::steady_timer deadline(co_await asio::this_coro::executor, limits.startup_timeout);
  auto started = co_await (start_and_connect() || deadline.async_wait(use_tuple));
  if (started.index() == 1) {
    metrics.client_connections_rejected(metrics::RejectReason::startup_timeout).Increment();
    spdlog::info("client startup timed out after {} ms", limits.startup_timeout.count());
    co_await send_fatal("08006", "startup timeout expired");
    close_all();
    co_return;
  }
  if (!std::get<0>(started)) {
    close_all();
    co_return;
  }
  if (admin_console_) {
    AdminConsole console(client_, client_reader_, runtime_,
                         startup_.parameter("user").value_or(""));
    co_await console.run();
    close_all();
    co_return;
  }
  co_await send_startup_reply();
  co_await relay();
  relay_done_ = true;
  co_await let_secondary_finish();
  on_session_end();
  close_all();
}

asio::awaitable<bool> ClientSession::start_and_connect() {
  const StartupOutcome outcome = co_await negotiate_startup();
  if (outcome == StartupOutcome::done) co_return false;
  if (admin_console_) co_return true;
  const bool connected = co_await connect_backends();
  co_return connected;
}

ClientSession::StartupStep ClientSession::next_startup_step(FrameReader::Status status) {
  auto& metrics = runtime_.metrics();
  StartupStep step;
  if (status != FrameReader::Status::ok) {
    if (status != FrameReader::Status::protocol_error) return step;  // close
    // As PostgreSQL does (COMMERROR): an invalid length is only logged and the connection
    // closed without a message. The bytes are not a startup packet at all (node-postgres
    // writes Terminate before its StartupMessage when end() follows connect() at once), so an
    // ErrorResponse would be noise the client then reports as its own error.
    metrics.protocol_errors(metrics::ProtocolErrorReason::bad_length).Increment();
    metrics.client_connections_rejected(metrics::RejectReason::protocol_error).Increment();
    spdlog::info("closing a client connection: invalid startup packet: {}", client_reader_.error());
    return step;
  }
  auto frame = client_reader_.next();
  client_reader_.take_raw();
  if (!frame) return step;
  protocol::StartupError error;
  auto packet = protocol::parse_startup(frame->payload, error);
  if (!packet) {
    const bool version = error.sqlstate == "0A000";
    metrics
        .protocol_errors(version ? metrics::ProtocolErrorReason::unsupported_version
                                 : metrics::ProtocolErrorReason::bad_startup)
        .Increment();
    metrics.client_connections_rejected(metrics::RejectReason::protocol_error).Increment();
    step.action = StartupStep::Action::refuse;
    step.error = protocol::make_error(error.sqlstate.empty() ? "08P01" : error.sqlstate,
                                      error.message, "FATAL");
    return step;
  }
  switch (packet->kind) {
    case protocol::StartupKind::cancel_request:
      step.action = StartupStep::Action::cancel;
      break;
    case protocol::StartupKind::gssenc_request:
      // No GSSAPI encryption: 'N' lets the client go on with SSL or plain.
      step.action = StartupStep::Action::answer_no;
      break;
    case protocol::StartupKind::ssl_request:
      if (runtime_.server_tls() == nullptr || client_.is_tls()) {
        step.action = StartupStep::Action::answer_no;
      } else if (client_reader_.has_buffered_bytes()) {
        // Bytes sent after SSLRequest but before our answer would be read as
        // if they came over TLS (CVE-2021-23214): refuse them.
        metrics.protocol_errors(metrics::ProtocolErrorReason::bad_startup).Increment();
      } else {
        step.action = StartupStep::Action::start_tls;
      }
      break;
    case protocol::StartupKind::startup:
      step.action = StartupStep::Action::startup;
      break;
  }
  step.packet = std::move(*packet);
  return step;
}

asio::awaitable<bool> ClientSession::start_client_tls() {
  auto& metrics = runtime_.metrics();
  if (co_await client_.write_all("S")) co_return false;
  const auto ec = co_await client_.handshake_as_server(*runtime_.server_tls());
  if (ec) {
    metrics.tls_handshakes_failed(metrics::TlsSide::client).Increment();
    spdlog::info("client TLS handshake failed: {}", ec.message());
    co_return false;
  }
  metrics.tls_handshakes_ok(metrics::TlsSide::client).Increment();
  co_return true;
}

// The coroutine only sequences I/O; the decisions are in next_startup_step.
// (Flat control flow on purpose: GCC 12 miscompiled co_await inside a switch
// with locals that outlive a suspension.)
asio::awaitable<ClientSession::StartupOutcome> ClientSession::negotiate_startup() {
  auto& metrics = runtime_.metrics();
  client_reader_.set_startup_phase(true);
  StartupStep step;
  bool started = false;
  while (!started) {
    const auto status = co_await client_reader_.fill();
    step = next_startup_step(status);
    if (step.action == StartupStep::Action::close) co_return StartupOutcome::done;
    if (step.action == StartupStep::Action::refuse) {
      co_await send_error(step.error);
      co_return StartupOutcome::done;
    }
    if (step.action == StartupStep::Action::cancel) {
      co_await handle_cancel_request(step.packet);
      co_return StartupOutcome::done;
    }
    if (step.action == StartupStep::Action::answer_no) {
      if (co_await client_.write_all("N")) co_return StartupOutcome::done;
    } else if (step.action == StartupStep::Action::start_tls) {
      if (!co_await start_client_tls()) co_return StartupOutcome::done;
    } else {
      started = true;
    }
  }
  startup_ = std::move(step.packet);
  client_reader_.set_startup_phase(false);

  const auto& config = config_->config;
  if (config.tls && config.tls->require && !client_.is_tls()) {
    metrics.client_connections_rejected(metrics::RejectReason::tls_required).Increment();
    co_await send_fatal("28000", "pgdual requires an encrypted connection (sslmode=require)");
    co_return StartupOutcome::done;
  }
  if (startup_.needs_negotiation()) {
    std::string reply;
    protocol::append_negotiate_protocol_version(reply, 0, startup_.protocol_options());
    co_await client_.write_all(reply);
  }
  ClientAuthRequest auth{startup_.parameter("user").value_or(""), config.auth.method,
                         &config_->users, client_.is_tls(),
                         &metrics.client_connections_rejected(metrics::RejectReason::auth_failed)};
  if (!co_await authenticate_client(client_reader_, auth)) {
    spdlog::info("authentication failed for user \"{}\"", auth.user);
    co_return StartupOutcome::done;
  }
  // The admin console's database (docs/operations.md): its users get the console, anyone else
  // is refused; no backend is opened either way.
  if (config.admin.console_enabled() && startup_.database() == config.admin.database) {
    if (!config.admin.is_admin(auth.user)) {
      metrics.client_connections_rejected(metrics::RejectReason::auth_failed).Increment();
      spdlog::warn("admin console refused to user \"{}\": not in admin.users", auth.user);
      const std::string refusal = "user \"" + auth.user + "\" may not use the admin console";
      co_await send_fatal("28000", refusal);
      co_return StartupOutcome::done;
    }
    admin_console_ = true;
  }
  co_return StartupOutcome::proceed;
}

asio::awaitable<void> ClientSession::handle_cancel_request(const protocol::StartupPacket& packet) {
  auto targets = runtime_.cancels().find({packet.cancel_process_id, packet.cancel_secret_key});
  if (!targets) {
    runtime_.metrics().cancel_requests(metrics::CancelResult::unknown_key).Increment();
    co_return;
  }
  runtime_.metrics().cancel_requests(metrics::CancelResult::forwarded).Increment();
  for (const auto& target : *targets) {
    co_await send_cancel_request(target, std::chrono::milliseconds(5000));
  }
}

StartupParameters ClientSession::backend_parameters(const config::BackendConfig& backend,
                                                    routing::Store store) const {
  // The client's own settings (options, application_name, client_encoding,
  // DateStyle, TimeZone, ...) reach the backend unchanged; user and database
  // come from the backend's config when it sets them.
  StartupParameters parameters;
  parameters.emplace_back(
      "user", backend.user.empty() ? startup_.parameter("user").value_or("") : backend.user);
  parameters.emplace_back("database", backend.dbname.value_or(startup_.database()));
  for (const auto& [name, value] : startup_.parameters) {
    if (name == "user" || name == "database" || name.starts_with("_pq_.")) continue;
    parameters.emplace_back(name, value);
  }
  if (store != roles_.primary && primary_) align_with_primary(parameters);
  return parameters;
}

void ClientSession::align_with_primary(StartupParameters& parameters) const {
  // The secondary reads the statements' text as the primary does: a role's or database's
  // default TimeZone, DateStyle, IntervalStyle or search_path set on one store only would
  // otherwise turn one literal into two values, or one name into two tables. A setting in
  // the startup packet overrides those defaults on the server, as the client's own does.
  auto set = [&](const std::string& name, const std::string& value) {
    for (auto& [existing, current] : parameters) {
      if (existing == name) {
        current = value;
        return;
      }
    }
    parameters.emplace_back(name, value);
  };
  for (const auto& [name, value] : primary_->parameter_status()) {
    if (name == "DateStyle" || name == "IntervalStyle" || name == "TimeZone") set(name, value);
  }
  if (search_path_known_) set("search_path", initial_search_path_setting_);
  // The primary decided every statement the secondary runs; a timeout of the client's there
  // would cancel one the primary accepted. A startup parameter wins over `-c` in `options`.
  // (A SET of these later in the session is mirrored; a statement it cancels on the secondary
  // is counted and journaled like any write only the secondary refused.)
  for (const char* timeout :
       {"statement_timeout", "lock_timeout", "idle_in_transaction_session_timeout"}) {
    set(timeout, "0");
  }
}

asio::awaitable<std::unique_ptr<BackendConnection>> ClientSession::open_backend(
    routing::Store store, BackendFailure& failure) {
  const auto& config = config_->config;
  const bool old_store = store == routing::Store::old_store;
  BackendTarget target{
      old_store ? &config.old_backend : &config.new_backend,
      old_store ? config_->old_tls.get() : config_->new_tls.get(),
      old_store ? metrics::BackendRole::old_backend : metrics::BackendRole::new_backend};
  auto& backend_metrics = runtime_.metrics().backend(target.role);
  const auto parameters = backend_parameters(*target.config, store);
  auto connection = co_await BackendConnection::open(target, parameters, failure);
  if (!connection) {
    backend_metrics.connect_errors->Increment();
    if (target.tls && failure.reason.find("TLS") != std::string::npos) {
      runtime_.metrics().tls_handshakes_failed(metrics::TlsSide::backend).Increment();
    }
    co_return nullptr;
  }
  backend_metrics.connections->Increment();
  if (connection->stream().is_tls())
    runtime_.metrics().tls_handshakes_ok(metrics::TlsSide::backend).Increment();
  co_return connection;
}

asio::awaitable<bool> ClientSession::connect_backends() {
  const auto& migration = config_->config.migration;
  identity_ = {startup_.database(), startup_.parameter("user").value_or(""),
               startup_.parameter("application_name").value_or("")};
  phase_ = routing::session_phase(migration, identity_);
  roles_ = routing::roles_for(phase_, migration.keep_old_in_sync);
  BackendFailure failure;
  primary_ = co_await open_backend(roles_.primary, failure);
  if (!primary_) {
    co_await report_primary_failure(failure);
    co_return false;
  }
  const bool role_ok = co_await client_role_exists();
  if (!role_ok) co_return false;
  // Only a database the primary accepted is noted for the journal: a probe of a
  // missing one (pg_isready's default "root", a typo) must not open a gate.
  runtime_.journal().note_session_database(identity_.database);
  runtime_.note_database(identity_.database);
  co_await wait_for_first_journal_look();
  co_await wait_for_cdc_health();
  if (roles_.secondary) co_await learn_search_path();
  const bool secondary_ok = co_await connect_secondary_at_startup();
  if (!secondary_ok) co_return false;
  co_await load_catalog();
  register_cancel_targets();
  co_return true;
}

asio::awaitable<void> ClientSession::wait_for_first_journal_look() {
  const auto& migration = config_->config.migration;
  // The relay serves the journal of every database sessions write.
  if (!migration.journal.enabled || !roles_.secondary) co_return;
  const bool new_database = runtime_.journal().note_database(identity_.database);
  if (!new_database && !runtime_.journal().gate_active(identity_.database)) co_return;
  // A database (or a process) whose journal was not looked at yet: wait for the relay to count
  // this instance's entries, rather than journal every write until it has (which would answer
  // a sync COMMIT before the new store has it). Bounded like any wait for the secondary; its
  // first look connects and may create the journal table, which a loaded machine can make slow.
  asio::steady_timer pause(co_await asio::this_coro::executor);
  const auto until = Clock::now() + config_->config.limits.secondary_timeout;
  while (runtime_.journal().gate_active(identity_.database) &&
         !runtime_.journal().looked_at(identity_.database) && Clock::now() < until) {
    pause.expires_after(std::chrono::milliseconds(5));
    co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
  }
  if (runtime_.journal().gate_active(identity_.database) &&
      !runtime_.journal().looked_at(identity_.database)) {
    spdlog::warn(
        "the journal relay has not counted database \"{}\" within {} ms: this session's writes "
        "go through the journal until it has (pgdual_journal_gate_active)",
        identity_.database, config_->config.limits.secondary_timeout.count());
  }
}

asio::awaitable<void> ClientSession::report_primary_failure(const BackendFailure& failure) {
  const char* name = roles_.primary == routing::Store::old_store ? "old" : "new";
  if (failure.server_error) {
    // The server's own words (no such database, role, ...) reach the client;
    // a refused login is pgdual's credential, not the client's: say so.
    auto error = *failure.server_error;
    if (error.sqlstate.starts_with("28")) {
      spdlog::warn("the {} database refused pgdual's login: {}", name, error.message);
      error.message = std::string("pgdual could not log in to the ") + name +
                      " database with its configured credentials: " + error.message;
    }
    co_await send_error(error);
    co_return;
  }
  spdlog::warn("{} database unavailable: {}", name, failure.reason);
  const std::string message =
      std::string("pgdual could not connect to the ") + name + " database: " + failure.reason;
  co_await send_fatal("08006", message);
}

asio::awaitable<bool> ClientSession::connect_secondary_at_startup() {
  const auto& migration = config_->config.migration;
  // Under outbox the relay alone writes the secondary: sessions need no connection to it.
  if (!roles_.secondary || (outbox() && migration.journal.enabled)) co_return true;
  BackendFailure failure;
  auto secondary = co_await open_backend(*roles_.secondary, failure);
  if (secondary) {
    secondary_ = std::make_unique<SecondaryLeg>(std::move(secondary));
    watch_commit_order();
    co_return true;
  }
  runtime_.metrics().secondary_failures(metrics::SecondaryFailure::connect).Increment();
  const std::string reason = failure.server_error ? failure.server_error->message : failure.reason;
  if (migration.on_secondary_failure == config::OnSecondaryFailure::fail) {
    const std::string message = "pgdual could not connect to the secondary database: " + reason;
    co_await send_fatal("08006", message);
    co_return false;
  }
  // continue: serve from the primary; writes are recorded until the
  // secondary is back (retried at transaction boundaries).
  spdlog::warn("secondary database unavailable, continuing on the primary alone: {}", reason);
  secondary_backoff_ = std::chrono::milliseconds(1000);
  next_secondary_attempt_ = Clock::now() + secondary_backoff_;
  co_return true;
}

void ClientSession::register_cancel_targets() {
  std::vector<CancelTarget> targets;
  auto add = [&](BackendConnection& connection) {
    targets.push_back({connection.config().host, connection.config().port, connection.process_id(),
                       connection.secret_key()});
  };
  // Only the primary: the secondary runs a unit after the primary finished it, and the
  // primary's outcome decides. A client's cancel meant for its statement on the primary would
  // otherwise hit a write the primary had accepted, while the secondary was still applying it.
  add(*primary_);
  if (cancel_key_) {
    runtime_.cancels().replace_targets(*cancel_key_, std::move(targets));
  } else {
    cancel_key_ = runtime_.cancels().register_session(std::move(targets));
  }
}

asio::awaitable<void> ClientSession::send_startup_reply() {
  std::string reply;
  protocol::append_authentication_ok(reply);
  for (const auto& [name, value] : primary_->parameter_status()) {
    protocol::append_parameter_status(reply, name, value);
  }
  protocol::append_backend_key_data(reply, cancel_key_->process_id, cancel_key_->secret_key);
  reply.append(pending_client_bytes_);
  pending_client_bytes_.clear();
  protocol::append_ready_for_query(reply, protocol::txn_status::kIdle);
  co_await client_.write_all(reply);
}

}  // namespace pgdual::proxy
