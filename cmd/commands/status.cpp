// `pgdual status` (docs/operations.md): the status of a running instance, read from its admin
// endpoint (/status.txt, or /status.json with --json), so that the table is rendered by the one
// code that also serves the page and the admin console. --watch repeats it in place.

#include <unistd.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/use_future.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <cstdio>
#include <future>
#include <thread>

#include "cmd/commands/arguments.hpp"
#include "cmd/commands/commands.hpp"
#include "cmd/commands/config_report.hpp"
#include "config/loader.hpp"

namespace pgdual::cmd {

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

constexpr auto kRequestTimeout = std::chrono::seconds(10);

struct Fetched {
  int status = 0;    // HTTP status; 0 when no answer came
  std::string body;  // or why there was no answer
};

asio::awaitable<Fetched> fetch(std::string host, std::string port, std::string target) {
  Fetched out;
  auto executor = co_await asio::this_coro::executor;
  tcp::resolver resolver(executor);
  beast::tcp_stream stream(executor);
  try {
    stream.expires_after(kRequestTimeout);
    const auto endpoints = co_await resolver.async_resolve(host, port, asio::use_awaitable);
    co_await stream.async_connect(endpoints, asio::use_awaitable);
    http::request<http::empty_body> request{http::verb::get, target, 11};
    const bool v6 = host.find(':') != std::string::npos;
    request.set(http::field::host, (v6 ? "[" + host + "]" : host) + ":" + port);
    request.set(http::field::user_agent, "pgdual-status");
    co_await http::async_write(stream, request, asio::use_awaitable);
    beast::flat_buffer buffer;
    http::response<http::string_body> response;
    co_await http::async_read(stream, buffer, response, asio::use_awaitable);
    out.status = static_cast<int>(response.result_int());
    out.body = std::move(response.body());
  } catch (const std::exception& e) {
    out.body = e.what();
  }
  co_return out;
}

Fetched get(const std::string& host, const std::string& port, const std::string& target) {
  asio::io_context io;
  auto result = asio::co_spawn(io, fetch(host, port, target), asio::use_future);
  // The stream's deadline does not cover the name lookup: bound the whole request here.
  io.run_for(kRequestTimeout + std::chrono::seconds(1));
  if (result.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    io.stop();
    return {0, "no answer within " + std::to_string(kRequestTimeout.count()) + " s"};
  }
  return result.get();
}

// "host:port", "[v6]:port", "host" or a bare IPv6 address (the default port).
bool split_address(const std::string& address, std::string& host, std::string& port) {
  const auto colon = address.rfind(':');
  const auto bracket = address.rfind(']');
  const bool bare_v6 = address.find(':') != colon && address.front() != '[';
  if (colon == std::string::npos || bare_v6 || (bracket != std::string::npos && colon < bracket)) {
    host = address;
    port = "9187";
  } else {
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return !host.empty() && !port.empty();
}

}  // namespace

Exit status_command(Args words) {
  std::string path, admin, interval_text = "2", count_text;
  bool json = false, watch = false;
  for (ArgCursor args(words); !args.done();) {
    if (args.value("--config", path) || args.value("--admin", admin) ||
        args.value("--interval", interval_text) || args.value("--count", count_text)) {
      continue;
    }
    if (args.flag("--json")) {
      json = true;
    } else if (args.flag("--watch")) {
      watch = true;
    } else {
      return unknown_argument(args.word());
    }
  }
  std::string host = "127.0.0.1", port = "9187";
  if (!admin.empty()) {
    if (!split_address(admin, host, port)) {
      std::fprintf(stderr, "--admin: expected HOST:PORT, got \"%s\"\n", admin.c_str());
      return 2;
    }
  } else if (!path.empty()) {
    auto loaded = config::load_config_file(path);
    if (!loaded.ok()) return print_config_errors(loaded.errors, path);
    // An admin endpoint bound to every address is reached on loopback.
    host = loaded.config->admin_host.empty() || loaded.config->admin_host == "0.0.0.0"
               ? "127.0.0.1"
               : loaded.config->admin_host;
    if (host == "::" || host == "[::]") host = "::1";
    port = std::to_string(loaded.config->admin_port);
    if (loaded.config->admin_port == 0) {
      std::fprintf(stderr,
                   "admin_listen in %s has port 0 (chosen at start): give the address with "
                   "--admin HOST:PORT\n",
                   path.c_str());
      return 2;
    }
  }
  const double interval = positive_number(interval_text);
  if (interval <= 0) {
    std::fprintf(stderr, "--interval: expected a positive number of seconds\n");
    return 2;
  }
  const double count = count_text.empty() ? -1 : positive_number(count_text);
  if (!count_text.empty() && count < 1) {
    std::fprintf(stderr, "--count: expected a positive number\n");
    return 2;
  }

  const std::string target = json ? "/status.json" : "/status.txt";
  bool last_failed = false;
  for (long shown = 0;; ++shown) {
    const Fetched fetched = get(host, port, target);
    last_failed = fetched.status != 200;
    if (last_failed) {
      std::fprintf(stderr, "pgdual status: cannot read http://%s:%s%s: %s\n", host.c_str(),
                   port.c_str(), target.c_str(),
                   fetched.status ? ("HTTP " + std::to_string(fetched.status)).c_str()
                                  : fetched.body.c_str());
      if (!watch) return 1;
    } else {
      // In a terminal, --watch redraws in place (cursor home, clear screen).
      if (watch && !json && isatty(fileno(stdout))) std::fputs("\033[H\033[2J", stdout);
      std::fputs(fetched.body.c_str(), stdout);
      std::fflush(stdout);
    }
    if (!watch || (count > 0 && shown + 1 >= static_cast<long>(count))) break;
    std::this_thread::sleep_for(std::chrono::duration<double>(interval));
  }
  return last_failed ? 1 : 0;
}

}  // namespace pgdual::cmd
