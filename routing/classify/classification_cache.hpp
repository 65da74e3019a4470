#pragma once

// A bounded LRU cache in front of classify(), keyed by the statement text: applications send the
// same few statement texts over and over, and parsing is the expensive part of routing.
// One cache per worker thread; the cache itself takes no locks and is not thread-safe.

#include <cstddef>
#include <cstdint>
#include <list>
#include <string>
#include <string_view>
#include <unordered_map>

#include "routing/classify/statement_classifier.hpp"

namespace pgdual::routing {

class ClassificationCache {
 public:
  // Texts longer than max_text_bytes are classified but not kept, so that a stream of huge
  // one-off statements (bulk INSERTs with literal values) cannot hold capacity x their size.
  explicit ClassificationCache(std::size_t capacity = 4096, std::size_t max_text_bytes = 64 * 1024);

  ClassificationCache(const ClassificationCache&) = delete;
  ClassificationCache& operator=(const ClassificationCache&) = delete;

  // The classification of `sql` under `options`. The cache does not key on the options: when
  // they change (a config reload), call clear(). The reference stays valid until the next
  // get() or clear().
  const Classification& get(std::string_view sql, const ClassifierOptions& options);
  // The same, keyed by `key` instead of the text: statements that differ only
  // in their literal values (routing/classify/literal_key.hpp) share one entry, so a
  // client that inlines values does not pay a parse per statement.
  const Classification& get(std::string_view key, std::string_view sql,
                            const ClassifierOptions& options);

  void clear();
  std::size_t size() const { return index_.size(); }
  std::size_t capacity() const { return capacity_; }
  std::uint64_t hits() const { return hits_; }
  std::uint64_t misses() const { return misses_; }

 private:
  struct Entry {
    std::string sql;
    Classification classification;
  };

  std::size_t capacity_;
  std::size_t max_text_bytes_;
  std::list<Entry> entries_;  // most recently used first
  // Keys view the text owned by the list node, which never moves.
  std::unordered_map<std::string_view, std::list<Entry>::iterator> index_;
  Classification uncached_;  // the last classification of a text too long to keep
  std::uint64_t hits_ = 0;
  std::uint64_t misses_ = 0;
};

}  // namespace pgdual::routing
