#include "proxy/auth/client_auth.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>

#include <boost/asio/this_coro.hpp>

#include "protocol/constants.hpp"
#include "protocol/md5_auth.hpp"
#include "protocol/message_reader.hpp"
#include "protocol/messages.hpp"
#include "protocol/scram.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;

namespace {

// The password message of the client, or nullopt when it sent something else.
asio::awaitable<std::optional<std::string>> read_password_message(FrameReader& reader) {
  if (co_await reader.fill() != FrameReader::Status::ok) co_return std::nullopt;
  auto frame = reader.next();
  reader.take_raw();
  if (!frame || frame->type != protocol::frontend::kPassword) co_return std::nullopt;
  co_return std::string(reinterpret_cast<const char*>(frame->payload.data()),
                        frame->payload.size());
}

asio::awaitable<void> send(FrameReader& reader, const std::string& bytes) {
  co_await reader.stream().write_all(bytes);
}

std::string strip_terminator(std::string text) {
  if (!text.empty() && text.back() == '\0') text.pop_back();
  return text;
}

bool equal_secret(std::string_view a, std::string_view b) {
  return a.size() == b.size() && CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

asio::awaitable<bool> cleartext(FrameReader& reader, const ClientUser* user) {
  std::string request;
  protocol::append_authentication_cleartext(request);
  co_await send(reader, request);
  auto password = co_await read_password_message(reader);
  co_return password&& user && !user->password.empty() &&
      equal_secret(strip_terminator(*password), user->password);
}

asio::awaitable<bool> md5(FrameReader& reader, const std::string& name, const ClientUser* user) {
  std::array<std::uint8_t, 4> salt{};
  RAND_bytes(salt.data(), salt.size());
  std::string request;
  protocol::append_authentication_md5(request, salt);
  co_await send(reader, request);
  auto response = co_await read_password_message(reader);
  co_return response&& user && !user->password.empty() &&
      protocol::md5_verify(name, user->password, salt, strip_terminator(*response));
}

// A stable fake secret for a user that does not exist: the salt is derived
// from the name and a per-process key, so repeated probes see the same salt
// for the same name, exactly as for a real user.
protocol::scram::Secret mock_secret(const std::string& name) {
  static const std::string process_key = protocol::scram::random_nonce();
  std::array<unsigned char, SHA256_DIGEST_LENGTH> digest{};
  const std::string input = process_key + '\0' + name;
  SHA256(reinterpret_cast<const unsigned char*>(input.data()), input.size(), digest.data());
  return protocol::scram::make_secret(protocol::scram::random_nonce(),
                                      std::string(reinterpret_cast<const char*>(digest.data()), 16),
                                      protocol::scram::kDefaultIterations);
}

asio::awaitable<bool> scram(FrameReader& reader, const std::string& request_user,
                            const ClientUser* user) {
  std::string request;
  protocol::append_authentication_sasl(request, {"SCRAM-SHA-256"});
  co_await send(reader, request);
  // Unknown users go through the exchange with a random secret, as
  // PostgreSQL does, so the reply does not reveal which users exist.
  protocol::scram::Secret secret = user ? user->scram_secret : mock_secret(request_user);
  protocol::scram::ServerExchange exchange(secret);

  auto initial = co_await read_password_message(reader);
  if (!initial) co_return false;
  auto parsed = protocol::parse_sasl_initial_response(
      std::span(reinterpret_cast<const std::uint8_t*>(initial->data()), initial->size()));
  if (!parsed || parsed->first != "SCRAM-SHA-256") co_return false;
  std::string error;
  auto server_first = exchange.on_client_first(
      std::string_view(reinterpret_cast<const char*>(parsed->second.data()), parsed->second.size()),
      error);
  if (!server_first) co_return false;
  request.clear();
  protocol::append_authentication_sasl_continue(request, *server_first);
  co_await send(reader, request);

  auto final_message = co_await read_password_message(reader);
  if (!final_message) co_return false;
  auto server_final = exchange.on_client_final(*final_message, error);
  if (!server_final || !user) co_return false;
  request.clear();
  protocol::append_authentication_sasl_final(request, *server_final);
  co_await send(reader, request);
  co_return true;
}

}  // namespace

asio::awaitable<bool> authenticate_client(FrameReader& reader, const ClientAuthRequest& request) {
  const ClientUser* user = request.users->find(request.user);
  bool ok = false;
  // if/else, not a switch: GCC 12 miscompiles co_await inside switch cases.
  if (request.method == config::AuthMethod::trust) {
    ok = true;
  } else if (request.method == config::AuthMethod::password) {
    // A cleartext password must never cross the network unencrypted.
    ok = request.over_tls && co_await cleartext(reader, user);
  } else if (request.method == config::AuthMethod::md5) {
    ok = co_await md5(reader, request.user, user);
  } else {
    ok = co_await scram(reader, request.user, user);
  }
  if (!ok) {
    // A startup deadline cancels this coroutine mid-exchange: that is no refusal (the caller
    // counts the timeout), and the send below would only throw.
    const auto state = co_await asio::this_coro::cancellation_state;
    if (state.cancelled() != asio::cancellation_type::none) co_return false;
    if (request.refusals) request.refusals->Increment();
    std::string error;
    const char* kind =
        request.method == config::AuthMethod::password && !request.over_tls
            ? "password authentication over an unencrypted connection is not allowed for user \""
            : "password authentication failed for user \"";
    protocol::append_error_response(
        error, protocol::make_error("28P01", kind + request.user + "\"", "FATAL"));
    co_await send(reader, error);
  }
  co_return ok;
}

}  // namespace pgdual::proxy
