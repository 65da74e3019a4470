#pragma once
// A read-only copy of the registry's values at one moment, by family name, for the status page
// and the admin console: they show the same numbers /metrics exports, taken from the one place
// that keeps them. Histograms are kept as their sample count and sum.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace prometheus {
class Registry;
}

namespace pgdual::metrics {

using LabelSet = std::map<std::string, std::string, std::less<>>;

struct MetricSeries {
  LabelSet labels;
  double value = 0;  // a histogram's sample count
  double sum = 0;    // a histogram's sample sum; 0 otherwise
};

class MetricView {
 public:
  MetricView() = default;
  explicit MetricView(const prometheus::Registry& registry);

  // Every series of the family; empty when it has none (or no such family).
  const std::vector<MetricSeries>& series(std::string_view family) const;
  // The sum over the series whose labels include every pair of `match`.
  double sum(std::string_view family, const LabelSet& match = {}) const;
  // The one series with exactly these label values among `match`'s keys; nullopt if none.
  std::optional<double> value(std::string_view family, const LabelSet& match = {}) const;
  // The distinct values of one label over a family's series, sorted.
  std::vector<std::string> label_values(std::string_view family, std::string_view label) const;

  // For tests: a view made of given series.
  void add(std::string family, MetricSeries series) {
    families_[std::move(family)].push_back(std::move(series));
  }

 private:
  std::map<std::string, std::vector<MetricSeries>, std::less<>> families_;
};

// True when every pair of `match` is among `labels`.
bool labels_match(const LabelSet& labels, const LabelSet& match);

}  // namespace pgdual::metrics
