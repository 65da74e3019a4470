#pragma once
// The primary's catalog facts (routing/classify/catalog_facts.hpp), shared by every
// session of every worker, one entry per store and database. Sessions fetch
// an entry in band when it is missing or stale; an entry goes stale when a
// transaction with DDL commits through pgdual and on every config reload
// (DDL run around pgdual is picked up by a reload: SIGHUP or a file edit),
// and when a write calls a function the entry does not know.

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "routing/classify/catalog_facts.hpp"

namespace pgdual::routing {

class CatalogCache {
 public:
  using FactsPtr = std::shared_ptr<const CatalogFacts>;

  // Bumped by every change; a session compares it with the last one it saw
  // (one atomic load) before looking at its entry again.
  std::uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // The facts for `key` (may be null) and whether the caller should refresh
  // them now: true for exactly one caller while the entry is missing or stale
  // (the caller must then call store() or abandon_refresh()).
  FactsPtr get(const std::string& key, bool& claim_refresh);

  void store(const std::string& key, FactsPtr facts);
  void abandon_refresh(const std::string& key);
  void mark_stale(const std::string& key);
  void mark_all_stale();
  // mark_stale for a name the entry lacks (a function created around pgdual since it was
  // read), unless this did so less than `interval` ago: a client that keeps calling a
  // function that does not exist must not make every statement read the catalog again.
  // True if it marked the entry.
  bool mark_stale_for_unknown(
      const std::string& key, std::chrono::steady_clock::duration interval,
      std::chrono::steady_clock::time_point now = std::chrono::steady_clock::now());

 private:
  struct Entry {
    FactsPtr facts;
    bool stale = true;
    bool refreshing = false;
    bool stale_during_refresh = false;  // the refresh in flight may have read the old catalog
    std::optional<std::chrono::steady_clock::time_point> unknown_marked;
  };
  std::mutex mutex_;
  std::unordered_map<std::string, Entry> entries_;
  std::atomic<std::uint64_t> generation_{1};
};

}  // namespace pgdual::routing
