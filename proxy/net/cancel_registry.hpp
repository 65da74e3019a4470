#pragma once
// pgdual hands each client its own BackendKeyData. A CancelRequest arrives on
// a new connection, possibly on another worker, so the map from pgdual's key
// to the backends' keys is shared and locked; it is touched only at connect,
// disconnect and cancel, never per query.

#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

namespace pgdual::proxy {

struct CancelTarget {
  std::string host;
  std::uint16_t port = 0;
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
};

struct CancelKey {
  std::int32_t process_id = 0;
  std::int32_t secret_key = 0;
};

class CancelRegistry {
 public:
  // A fresh key for a new session (unique process id, random secret).
  CancelKey register_session(std::vector<CancelTarget> targets);
  void replace_targets(const CancelKey& key, std::vector<CancelTarget> targets);
  void unregister(const CancelKey& key);
  // The backends to cancel, if the key and its secret match a live session.
  std::optional<std::vector<CancelTarget>> find(const CancelKey& key) const;

 private:
  mutable std::mutex mutex_;
  std::unordered_map<std::int32_t, std::pair<std::int32_t, std::vector<CancelTarget>>> sessions_;
  std::int32_t next_process_id_ = 1;
  std::random_device random_;
};

}  // namespace pgdual::proxy
