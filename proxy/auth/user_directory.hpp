#pragma once
// The users clients may log in to pgdual as, with their SCRAM secrets derived
// once per config load: PBKDF2 with 4096 rounds is too slow to run per
// connection on an I/O thread.

#include <optional>
#include <string>
#include <unordered_map>

#include "config/config.hpp"
#include "protocol/scram.hpp"

namespace pgdual::proxy {

struct ClientUser {
  std::string password;  // cleartext; empty when config holds a SCRAM verifier
  protocol::scram::Secret scram_secret;
};

class UserDirectory {
 public:
  explicit UserDirectory(const config::AuthConfig& auth);
  const ClientUser* find(const std::string& name) const;

 private:
  std::unordered_map<std::string, ClientUser> users_;
};

}  // namespace pgdual::proxy
