#include "config/section_parsers.hpp"

#include <algorithm>
#include <cctype>

#include "config/files.hpp"
#include "config/value_parsers.hpp"

namespace pgdual::config {
namespace {

constexpr std::uint64_t kMaxTimeoutMs = 24ull * 3600 * 1000;

// A file named by a certificate/key key must be readable now, not at the first connection.
void check_readable(Section& s, std::string_view key, const std::string& path) {
  if (path.empty()) return;
  if (auto reason = unreadable_reason(path)) s.error(key, "cannot read " + path + ": " + *reason);
}

bool valid_host(std::string_view host) {
  return !host.empty() && std::none_of(host.begin(), host.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '/' || c == '[' || c == ']';
  });
}

}  // namespace

void parse_listen_address(Section& top, std::string_view key, std::string& host,
                          std::uint16_t& port) {
  constexpr std::string_view kExpected =
      "host:port with a port between 0 and 65535 (IPv6 as [::1]:6432)";
  auto value = top.scalar(key, kExpected);
  if (!value) return;
  const auto parsed = parse_host_port(value->text);
  if (!parsed) {
    top.error(key,
              "expected " + std::string(kExpected) + ", got " + quote_for_message(value->text));
    return;
  }
  host = parsed->host;
  port = parsed->port;
}

AuthConfig parse_auth(const YAML::Node& node, LoadContext& ctx) {
  AuthConfig auth;
  Section s(node, "auth", ctx, {"method", "users"});
  s.read_enum("method", auth.method, parse_auth_method, "trust, password, md5, scram-sha-256");
  const bool method_known = !ctx.diag.failed("auth.method");
  const bool needs_password = auth.method != AuthMethod::trust;

  const std::vector<YAML::Node> users = s.read_list("users");
  const std::string users_path = s.key_path("users");
  for (std::size_t i = 0; i < users.size(); ++i) {
    const std::string path = index_path(users_path, i);
    Section u(users[i], path, ctx, {"name", "password", "password_file"});
    UserEntry entry;
    if (u.require("name")) u.read_string("name", entry.name);
    u.read_secret("password", "password_file", entry.password);
    const bool secret_failed =
        ctx.diag.failed(u.key_path("password")) || ctx.diag.failed(u.key_path("password_file"));
    if (!entry.name.empty()) {
      const bool duplicate = std::any_of(auth.users.begin(), auth.users.end(),
                                         [&](const UserEntry& e) { return e.name == entry.name; });
      if (duplicate) u.error("name", "user " + quote_for_message(entry.name) + " is listed twice");
    }
    if (is_scram_verifier(entry.password)) {
      if (!valid_scram_verifier(entry.password)) {
        u.error("password",
                "looks like a SCRAM-SHA-256 verifier but is malformed (expected "
                "SCRAM-SHA-256$<iterations>:<salt>$<StoredKey>:<ServerKey>, as in pg_authid)");
      } else if (method_known && auth.method == AuthMethod::md5) {
        u.error("password",
                "a SCRAM-SHA-256 verifier cannot answer md5 authentication; give the password "
                "itself or use auth.method scram-sha-256");
      }
    }
    if (method_known && needs_password && !secret_failed && entry.password.empty()) {
      u.error("password", "user " + quote_for_message(entry.name) +
                              " has no password, which auth.method " +
                              std::string(to_string(auth.method)) +
                              " requires (give password, password_file or ${ENV_VAR})");
    }
    auth.users.push_back(std::move(entry));
  }
  if (method_known && needs_password && users.empty() && !ctx.diag.failed(users_path)) {
    ctx.diag.error(users_path, "no users configured, so no client could log in with auth.method " +
                                   std::string(to_string(auth.method)) +
                                   " (add users, or use method trust)");
  }
  return auth;
}

AdminConfig parse_admin(const YAML::Node& node, const AuthConfig& auth, LoadContext& ctx) {
  AdminConfig admin;
  Section s(node, "admin", ctx, {"database", "users", "pause_timeout_ms", "status_interval_ms"});
  s.read_string("database", admin.database);
  s.read_milliseconds("pause_timeout_ms", admin.pause_timeout, 100, 3600000);
  s.read_milliseconds("status_interval_ms", admin.status_interval, 0, 86400000);
  if (!s.read_string_list("users", admin.users)) return admin;
  if (!admin.users.empty() && auth.method == AuthMethod::trust) {
    ctx.diag.warning(s.key_path("users"),
                     "auth.method is trust: any client that can reach pgdual may name an admin "
                     "user and RELOAD or PAUSE it; use scram-sha-256 outside a test");
  }
  for (const auto& user : admin.users) {
    const bool known = std::any_of(auth.users.begin(), auth.users.end(),
                                   [&](const UserEntry& e) { return e.name == user; });
    // Under trust no user needs listing in auth.users; under any other method the console
    // authenticates with the same secrets as the data path, so the user must have one.
    if (!known && auth.method != AuthMethod::trust) {
      s.error("users", "admin user " + quote_for_message(user) +
                           " is not in auth.users, so it could not authenticate");
    }
  }
  return admin;
}

std::optional<ServerTlsConfig> parse_tls(const YAML::Node& node, LoadContext& ctx) {
  Section s(node, "tls", ctx, {"cert_file", "key_file", "ca_file", "require"});
  if (!node.IsDefined() || node.IsNull() || !node.IsMap() || node.size() == 0) return std::nullopt;
  ServerTlsConfig tls;
  const bool has_cert = s.has("cert_file");
  const bool has_key = s.has("key_file");
  if (has_cert != has_key) {
    s.error(has_cert ? "key_file" : "cert_file",
            "required with " + std::string(has_cert ? "tls.cert_file" : "tls.key_file") +
                " (give both the certificate and its private key, or neither)");
  } else if (!has_cert) {
    s.error("cert_file",
            "required: tls needs cert_file and key_file (remove the tls section to "
            "serve clients without TLS)");
  }
  if (s.read_path("cert_file", tls.cert_file)) check_readable(s, "cert_file", tls.cert_file);
  if (s.read_path("key_file", tls.key_file)) check_readable(s, "key_file", tls.key_file);
  if (s.read_path("ca_file", tls.ca_file)) check_readable(s, "ca_file", tls.ca_file);
  s.read_bool("require", tls.require);
  return tls;
}

BackendConfig parse_backend(const YAML::Node& node, const std::string& path, LoadContext& ctx) {
  BackendConfig b;
  Section s(node, path, ctx,
            {"host", "port", "user", "password", "password_file", "dbname", "sslmode",
             "sslrootcert", "sslcert", "sslkey", "connect_timeout_ms"});
  if (s.require("host") && s.read_string("host", b.host)) {
    // Accept the bracketed IPv6 form people copy from URLs.
    if (b.host.size() > 2 && b.host.front() == '[' && b.host.back() == ']') {
      b.host = b.host.substr(1, b.host.size() - 2);
    }
    if (b.host.front() == '/') {
      s.error("host", "Unix-domain sockets are not supported; give a host name or IP address");
    } else if (!valid_host(b.host)) {
      s.error("host", "expected a host name or IP address, got " + quote_for_message(b.host));
    }
  }
  s.read_integer("port", b.port, 1, 65535);
  if (s.require("user")) s.read_string("user", b.user);
  s.read_secret("password", "password_file", b.password);
  if (is_scram_verifier(b.password)) {
    s.error(s.has("password") ? "password" : "password_file",
            "a SCRAM-SHA-256 verifier cannot be used to log in to a backend; give the password");
  }
  s.read_optional_string("dbname", b.dbname);
  s.read_enum("sslmode", b.sslmode, parse_ssl_mode,
              "disable, prefer, require, verify-ca, verify-full");
  if (s.read_path("sslrootcert", b.sslrootcert)) check_readable(s, "sslrootcert", b.sslrootcert);
  if (s.read_path("sslcert", b.sslcert)) check_readable(s, "sslcert", b.sslcert);
  if (s.read_path("sslkey", b.sslkey)) check_readable(s, "sslkey", b.sslkey);
  if (s.has("sslcert") != s.has("sslkey")) {
    s.error(s.has("sslcert") ? "sslkey" : "sslcert",
            "sslcert and sslkey go together (the client certificate and its private key)");
  }
  const bool verifies = b.sslmode == SslMode::verify_ca || b.sslmode == SslMode::verify_full;
  if (verifies && !s.has("sslrootcert")) {
    s.error("sslrootcert",
            "required with sslmode " + std::string(to_string(b.sslmode)) +
                " (pgdual does not fall back to libpq's default ~/.postgresql/root.crt; name the "
                "CA file explicitly)");
  }
  s.read_milliseconds("connect_timeout_ms", b.connect_timeout, 1, kMaxTimeoutMs);
  return b;
}

LimitsConfig parse_limits(const YAML::Node& node, LoadContext& ctx) {
  LimitsConfig l;
  Section s(node, "limits", ctx,
            {"max_message_size", "startup_timeout_ms", "max_client_connections", "drain_timeout_ms",
             "secondary_timeout_ms", "max_copy_buffer"});
  s.read_byte_size("max_message_size", l.max_message_size, 4096, std::uint64_t{1} << 30);
  s.read_byte_size("max_copy_buffer", l.max_copy_buffer, 65536, std::uint64_t{1} << 30);
  s.read_milliseconds("startup_timeout_ms", l.startup_timeout, 1, kMaxTimeoutMs);
  s.read_integer("max_client_connections", l.max_client_connections, 1, 1000000);
  s.read_milliseconds("drain_timeout_ms", l.drain_timeout, 0, kMaxTimeoutMs);
  s.read_milliseconds("secondary_timeout_ms", l.secondary_timeout, 1, kMaxTimeoutMs);
  return l;
}

LogConfig parse_log(const YAML::Node& node, LoadContext& ctx) {
  LogConfig l;
  Section s(node, "log", ctx, {"level", "format", "log_parameters"});
  constexpr std::string_view kLevels = "trace, debug, info, warn, error, critical, off";
  if (auto v = s.scalar("level", kLevels)) {
    std::string level = v->text;
    if (level == "warning") level = "warn";  // spdlog's long name
    if (level == "err") level = "error";
    const bool valid = level == "trace" || level == "debug" || level == "info" || level == "warn" ||
                       level == "error" || level == "critical" || level == "off";
    if (valid) {
      l.level = level;
    } else {
      s.error("level",
              "expected one of " + std::string(kLevels) + ", got " + quote_for_message(v->text));
    }
  }
  if (auto v = s.scalar("format", "text or json")) {
    if (v->text == "text" || v->text == "json") {
      l.format = v->text;
    } else {
      s.error("format", "expected text or json, got " + quote_for_message(v->text));
    }
  }
  s.read_bool("log_parameters", l.log_parameters);
  return l;
}

}  // namespace pgdual::config
