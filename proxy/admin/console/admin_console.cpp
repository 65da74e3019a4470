#include "proxy/admin/console/admin_console.hpp"

#include <spdlog/spdlog.h>

#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <chrono>

#include "protocol/backend_messages.hpp"
#include "protocol/constants.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/payload_readers.hpp"
#include "proxy/admin/console/console_commands.hpp"
#include "proxy/net/frame_reader.hpp"
#include "proxy/net/pg_stream.hpp"
#include "proxy/net/use_tuple.hpp"
#include "proxy/server/runtime.hpp"
#include "proxy/server/runtime_status.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

namespace {

// How often PAUSE looks at the transactions in flight, SHOW CUTOVER for a fresh look and RELOAD
// for its outcome; how long the last two wait.
constexpr auto kPoll = std::chrono::milliseconds(5);
constexpr auto kLookWait = std::chrono::seconds(15);
constexpr auto kReloadWait = std::chrono::seconds(120);

void append_error(std::string& out, const console::ConsoleError& error) {
  auto fields = protocol::make_error(error.sqlstate, error.message);
  fields.hint = error.hint;
  protocol::append_error_response(out, fields);
}

// What a driver needs to hear at startup: psql and libpq read server_version, psycopg and
// pgjdbc the encodings, DateStyle and integer_datetimes.
void append_startup_reply(std::string& out, const std::string& user) {
  protocol::append_authentication_ok(out);
  const std::pair<const char*, std::string> kParameters[] = {
      {"server_version", "15.0 (pgdual admin console)"},
      {"server_encoding", "UTF8"},
      {"client_encoding", "UTF8"},
      {"DateStyle", "ISO, MDY"},
      {"TimeZone", "UTC"},
      {"integer_datetimes", "on"},
      {"standard_conforming_strings", "on"},
      {"is_superuser", "off"},
      {"session_authorization", user},
      {"application_name", "pgdual"},
  };
  for (const auto& [name, value] : kParameters) protocol::append_parameter_status(out, name, value);
  // A key no cancel registry knows: a CancelRequest for it is ignored, as nothing here runs long
  // enough to need one.
  protocol::append_backend_key_data(out, 0, 0);
  protocol::append_ready_for_query(out, protocol::txn_status::kIdle);
}

}  // namespace

asio::awaitable<void> AdminConsole::send(const std::string& bytes) {
  co_await client_.write_all(bytes);
}

asio::awaitable<void> AdminConsole::run() {
  spdlog::info("admin console: user \"{}\" connected", user_);
  std::string reply;
  append_startup_reply(reply, user_);
  co_await send(reply);

  bool skipping_to_sync = false;  // an extended-protocol batch was refused
  for (;;) {
    auto frame = reader_.next();
    if (!frame) {
      const auto status = co_await reader_.fill();
      if (status != FrameReader::Status::ok) break;
      continue;
    }
    const char type = frame->type;
    if (type == 'X') break;
    if (type == 'Q') {
      const auto query = protocol::parse_single_cstring(frame->payload);
      const std::string text(query.value_or(""));
      co_await answer(text);
      continue;
    }
    if (type == 'S') {
      std::string out;
      protocol::append_ready_for_query(out, protocol::txn_status::kIdle);
      skipping_to_sync = false;
      co_await send(out);
      continue;
    }
    if (type == 'F') {
      // A FunctionCall is answered on its own, as PostgreSQL does: no Sync follows it.
      std::string out;
      append_error(out, {"0A000", "the admin console runs no functions", "SHOW HELP"});
      protocol::append_ready_for_query(out, protocol::txn_status::kIdle);
      co_await send(out);
      continue;
    }
    if (type == 'P' || type == 'B' || type == 'D' || type == 'E' || type == 'C' || type == 'H') {
      if (!skipping_to_sync) {
        skipping_to_sync = true;
        std::string out;
        append_error(out, {"0A000", "the admin console takes the simple query protocol only",
                           "with pgjdbc use preferQueryMode=simple; psql and psycopg's "
                           "autocommit execute() without parameters need nothing"});
        co_await send(out);
      }
      continue;
    }
    std::string out;
    append_error(out, {"08P01", std::string("unexpected message type '") + type + "'", ""});
    co_await send(out);
    break;
  }
  spdlog::info("admin console: user \"{}\" disconnected", user_);
}

asio::awaitable<void> AdminConsole::answer(std::string_view query) {
  std::string out;
  console::ConsoleError error;
  const auto command = console::parse_command(query, error);
  const auto config = runtime_.config();
  if (!command) {
    append_error(out, error);
  } else if (command->verb == console::Verb::empty) {
    protocol::append_empty_query_response(out);
  } else if (command->verb == console::Verb::set) {
    protocol::append_command_complete(out, "SET");
  } else if (command->verb == console::Verb::show) {
    auto* watch = runtime_.status_watch();
    if (watch && (command->object == "CUTOVER" || command->object == "INSTANCES")) {
      co_await wait_for_fresh_look(*watch);
    }
    const auto report = current_status(runtime_);
    if (auto result = console::show(command->object, report, config->config)) {
      console::append_result_set(out, *result);
    } else {
      append_error(out, {"42704", "SHOW " + command->object + ": no such object",
                         "SHOW HELP lists the commands"});
    }
  } else if (command->verb == console::Verb::reload) {
    spdlog::info("admin console: RELOAD by \"{}\"", user_);
    const std::string failure = co_await reload();
    if (failure.empty()) {
      protocol::append_command_complete(out, "RELOAD");
    } else {
      append_error(out, {"F0000", "reload did not apply: " + failure,
                         "the previous configuration stays in force; see pgdual's log"});
    }
  } else if (command->verb == console::Verb::pause) {
    spdlog::info("admin console: PAUSE by \"{}\"", user_);
    const std::string failure = co_await pause();
    if (failure.empty()) {
      protocol::append_command_complete(out, "PAUSE");
    } else {
      append_error(out, {"55000", failure,
                         "nothing is paused; try again, or find the long "
                         "transaction in pg_stat_activity"});
    }
  } else if (command->verb == console::Verb::resume) {
    auto& hold = runtime_.fleet();
    if (!hold.admin_paused()) {
      append_error(out, {"55000", "pgdual is not paused", ""});
    } else {
      hold.set_admin_paused(false);
      runtime_.metrics().status().set_admin_paused(false);
      spdlog::info("admin console: RESUME by \"{}\": new transactions proceed", user_);
      protocol::append_command_complete(out, "RESUME");
    }
  }
  protocol::append_ready_for_query(out, protocol::txn_status::kIdle);
  co_await send(out);
}

asio::awaitable<void> AdminConsole::wait_for_fresh_look(cutover::StatusWatch& watch) {
  // SHOW CUTOVER and SHOW INSTANCES answer with a current verdict: a look taken after the
  // question, or one fresh enough, waited for on this worker without blocking it (bounded).
  const auto asked = std::chrono::system_clock::now();
  const auto fresh = [&] {
    const auto look = watch.last();
    return look &&
           (look->taken >= asked || asked - look->taken < cutover::StatusWatch::kFreshEnough);
  };
  watch.request_fresh();
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto until = std::chrono::steady_clock::now() + kLookWait;
  while (!fresh() && std::chrono::steady_clock::now() < until) {
    timer.expires_after(kPoll);
    co_await timer.async_wait(use_tuple);
  }
}

asio::awaitable<std::string> AdminConsole::reload() {
  const auto& hook = runtime_.reload_hook();
  if (!hook) co_return std::string("this instance cannot reload from the console");
  // The reload runs on the control thread and reports into `result`; this session waits on its
  // own worker, so that nothing of it lives on the control thread (which may stop first).
  const auto result = hook();
  if (!result) co_return std::string("pgdual is shutting down");
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto until = std::chrono::steady_clock::now() + kReloadWait;
  while (!result->done.load() && std::chrono::steady_clock::now() < until) {
    timer.expires_after(kPoll);
    co_await timer.async_wait(use_tuple);
  }
  if (!result->done.load()) {
    co_return std::string(
        "the reload is still running (waiting for the cutover gate or a fleet "
        "flip); its outcome will be in the log");
  }
  co_return result->error;
}

asio::awaitable<std::string> AdminConsole::pause() {
  auto& hold = runtime_.fleet();
  // One PAUSE waits at a time: a second one answering at once would claim a pause the first may
  // still give up.
  if (!hold.begin_admin_pause()) co_return std::string("another PAUSE is waiting already");
  if (hold.admin_paused()) {  // paused already: PAUSE is idempotent
    hold.end_admin_pause();
    co_return std::string();
  }
  const auto timeout = runtime_.config()->config.admin.pause_timeout;
  hold.set_admin_paused(true);
  runtime_.metrics().status().set_admin_paused(true);
  asio::steady_timer timer(co_await asio::this_coro::executor);
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (hold.admin_paused() && hold.busy() > 0 && std::chrono::steady_clock::now() < until) {
    timer.expires_after(kPoll);
    co_await timer.async_wait(use_tuple);
  }
  hold.end_admin_pause();
  if (!hold.admin_paused()) {
    co_return std::string("a RESUME arrived while PAUSE waited: nothing is paused");
  }
  const auto busy = hold.busy();
  if (busy == 0) {
    spdlog::warn("admin console: PAUSE by \"{}\": new transactions wait until RESUME", user_);
    co_return std::string();
  }
  hold.set_admin_paused(false);
  runtime_.metrics().status().set_admin_paused(false);
  spdlog::warn("admin console: PAUSE gave up after {} ms: {} session(s) still in a transaction",
               timeout.count(), busy);
  co_return "PAUSE gave up after " + std::to_string(timeout.count()) +
      " ms: " + std::to_string(busy) + " session(s) still inside a transaction";
}

}  // namespace pgdual::proxy
