#include "routing/classify/classification_cache.hpp"

#include <algorithm>
#include <utility>

namespace pgdual::routing {

ClassificationCache::ClassificationCache(std::size_t capacity, std::size_t max_text_bytes)
    : capacity_(std::max<std::size_t>(capacity, 1)), max_text_bytes_(max_text_bytes) {
  index_.reserve(capacity_);
}

const Classification& ClassificationCache::get(std::string_view sql,
                                               const ClassifierOptions& options) {
  return get(sql, sql, options);
}

const Classification& ClassificationCache::get(std::string_view key, std::string_view sql,
                                               const ClassifierOptions& options) {
  if (const auto found = index_.find(key); found != index_.end()) {
    ++hits_;
    entries_.splice(entries_.begin(), entries_, found->second);  // now most recently used
    return found->second->classification;
  }
  ++misses_;
  if (key.size() > max_text_bytes_) {
    uncached_ = classify(sql, options);
    return uncached_;
  }
  if (index_.size() >= capacity_) {
    index_.erase(entries_.back().sql);
    entries_.pop_back();
  }
  entries_.push_front(Entry{std::string(key), classify(sql, options)});
  index_.emplace(entries_.front().sql, entries_.begin());
  return entries_.front().classification;
}

void ClassificationCache::clear() {
  index_.clear();
  entries_.clear();
  uncached_ = Classification{};
}

}  // namespace pgdual::routing
