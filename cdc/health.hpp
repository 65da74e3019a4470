#pragma once
// How far the new store is behind the old one under strategy cdc, read from both servers'
// statistics views (docs/cdc.md, "Health"). Blocking libpq; the caller owns the connections.

#include <libpq-fe.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "libpq/connection.hpp"

namespace pgdual::cdc {

// The publisher's side (the old store): the subscription's walsender and slot.
struct PublisherHealth {
  bool publication_exists = false;
  bool slot_exists = false;
  bool slot_active = false;
  bool walsender_connected = false;            // a pg_stat_replication row for the subscription
  std::optional<std::int64_t> lag_bytes;       // current WAL position - applied position
  std::optional<double> lag_seconds;           // replay_lag (NULL once caught up and idle: 0)
  std::optional<std::int64_t> retained_bytes;  // WAL the slot keeps: current - restart_lsn
  std::optional<std::int64_t> safe_wal_bytes;  // safe_wal_size (NULL: unlimited or lost)
  std::string wal_status;                      // reserved | extended | unreserved | lost
};

// The subscriber's side (the new store).
struct SubscriberHealth {
  bool subscription_exists = false;
  bool enabled = false;
  bool worker_running = false;  // the apply worker has a pg_stat_subscription row with a pid
  std::int64_t apply_errors = 0;
  std::int64_t sync_errors = 0;
  std::map<char, std::int64_t> tables_by_state;  // pg_subscription_rel.srsubstate: i d f s r
  std::optional<double> seconds_since_message;   // now() - last_msg_receipt_time
  std::int64_t tables_not_ready() const;         // every state but 'r'
};

// Each returns false with `error` set when the query failed (the connection may be broken).
bool read_publisher_health(PGconn* old_store, const std::string& name, PublisherHealth& out,
                           std::string& error);
bool read_subscriber_health(PGconn* new_store, const std::string& name, SubscriberHealth& out,
                            std::string& error);

}  // namespace pgdual::cdc
