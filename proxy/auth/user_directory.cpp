#include "proxy/auth/user_directory.hpp"

#include <openssl/rand.h>

namespace pgdual::proxy {

namespace {
std::string random_salt() {
  std::string salt(16, '\0');
  RAND_bytes(reinterpret_cast<unsigned char*>(salt.data()), static_cast<int>(salt.size()));
  return salt;
}
}  // namespace

UserDirectory::UserDirectory(const config::AuthConfig& auth) {
  for (const auto& entry : auth.users) {
    ClientUser user;
    if (auto verifier = protocol::scram::parse_stored_secret(entry.password)) {
      user.scram_secret = *verifier;
    } else {
      user.password = entry.password;
      if (auth.method == config::AuthMethod::scram_sha_256) {
        user.scram_secret = protocol::scram::make_secret(entry.password, random_salt(),
                                                         protocol::scram::kDefaultIterations);
      }
    }
    users_.insert_or_assign(entry.name, std::move(user));
  }
}

const ClientUser* UserDirectory::find(const std::string& name) const {
  auto it = users_.find(name);
  return it == users_.end() ? nullptr : &it->second;
}

}  // namespace pgdual::proxy
