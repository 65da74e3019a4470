#include "routing/classify/catalog_cache.hpp"

namespace pgdual::routing {

CatalogCache::FactsPtr CatalogCache::get(const std::string& key, bool& claim_refresh) {
  std::lock_guard lock(mutex_);
  Entry& entry = entries_[key];
  claim_refresh = entry.stale && !entry.refreshing;
  if (claim_refresh) entry.refreshing = true;
  return entry.facts;
}

void CatalogCache::store(const std::string& key, FactsPtr facts) {
  {
    std::lock_guard lock(mutex_);
    Entry& entry = entries_[key];
    entry.facts = std::move(facts);
    entry.stale = entry.stale_during_refresh;
    entry.stale_during_refresh = false;
    entry.refreshing = false;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

void CatalogCache::abandon_refresh(const std::string& key) {
  std::lock_guard lock(mutex_);
  entries_[key].refreshing = false;
}

void CatalogCache::mark_stale(const std::string& key) {
  {
    std::lock_guard lock(mutex_);
    Entry& entry = entries_[key];
    entry.stale = true;
    if (entry.refreshing) entry.stale_during_refresh = true;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

bool CatalogCache::mark_stale_for_unknown(const std::string& key,
                                          std::chrono::steady_clock::duration interval,
                                          std::chrono::steady_clock::time_point now) {
  {
    std::lock_guard lock(mutex_);
    Entry& entry = entries_[key];
    if (entry.unknown_marked && now - *entry.unknown_marked < interval) return false;
    entry.unknown_marked = now;
    entry.stale = true;
    if (entry.refreshing) entry.stale_during_refresh = true;
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  return true;
}

void CatalogCache::mark_all_stale() {
  {
    std::lock_guard lock(mutex_);
    for (auto& [key, entry] : entries_) {
      entry.stale = true;
      if (entry.refreshing) entry.stale_during_refresh = true;
    }
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

}  // namespace pgdual::routing
