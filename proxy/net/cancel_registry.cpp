#include "proxy/net/cancel_registry.hpp"

#include <openssl/crypto.h>
#include <openssl/rand.h>

namespace pgdual::proxy {

CancelKey CancelRegistry::register_session(std::vector<CancelTarget> targets) {
  std::int32_t secret = 0;
  // A guessable secret would let any client cancel another's queries.
  if (RAND_bytes(reinterpret_cast<unsigned char*>(&secret), sizeof secret) != 1) secret = random_();
  std::lock_guard lock(mutex_);
  std::int32_t process_id;
  do {
    process_id = next_process_id_;
    next_process_id_ = next_process_id_ == INT32_MAX ? 1 : next_process_id_ + 1;
  } while (sessions_.contains(process_id));
  sessions_.emplace(process_id, std::pair{secret, std::move(targets)});
  return {process_id, secret};
}

void CancelRegistry::replace_targets(const CancelKey& key, std::vector<CancelTarget> targets) {
  std::lock_guard lock(mutex_);
  if (auto it = sessions_.find(key.process_id); it != sessions_.end()) {
    it->second.second = std::move(targets);
  }
}

void CancelRegistry::unregister(const CancelKey& key) {
  std::lock_guard lock(mutex_);
  sessions_.erase(key.process_id);
}

std::optional<std::vector<CancelTarget>> CancelRegistry::find(const CancelKey& key) const {
  std::lock_guard lock(mutex_);
  auto it = sessions_.find(key.process_id);
  if (it == sessions_.end()) return std::nullopt;
  const std::int32_t expected = it->second.first;
  if (CRYPTO_memcmp(&expected, &key.secret_key, sizeof expected) != 0) return std::nullopt;
  return it->second.second;
}

}  // namespace pgdual::proxy
