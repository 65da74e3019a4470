#pragma once
// The psql admin console (docs/operations.md): a client that asked for admin.database and is one
// of admin.users, once authenticated like any client, talks to pgdual itself instead of a
// backend. It answers the simple query protocol only (as PgBouncer's console does); the
// extended protocol gets 0A000 per batch. RELOAD runs the server's reload on the control thread
// and reports whether the file applied; PAUSE holds new transactions on this instance at their
// boundary once those in flight have ended, within admin.pause_timeout_ms; RESUME releases it.

#include <boost/asio/awaitable.hpp>
#include <string>
#include <string_view>

namespace pgdual::cutover {
class StatusWatch;
}

namespace pgdual::proxy {

class FrameReader;
class PgStream;
class Runtime;

class AdminConsole {
 public:
  AdminConsole(PgStream& client, FrameReader& reader, Runtime& runtime, std::string user)
      : client_(client), reader_(reader), runtime_(runtime), user_(std::move(user)) {}

  // The startup reply, then commands until the client terminates or disconnects.
  boost::asio::awaitable<void> run();

 private:
  boost::asio::awaitable<void> answer(std::string_view query);
  // "" when paused, else why not (the pause is then undone).
  boost::asio::awaitable<std::string> pause();
  // "" when the file applied, else why not.
  boost::asio::awaitable<std::string> reload();
  boost::asio::awaitable<void> wait_for_fresh_look(cutover::StatusWatch& watch);
  boost::asio::awaitable<void> send(const std::string& bytes);

  PgStream& client_;
  FrameReader& reader_;
  Runtime& runtime_;
  std::string user_;
};

}  // namespace pgdual::proxy
