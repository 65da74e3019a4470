#include "metrics/metric_view.hpp"

#include <prometheus/registry.h>

#include <set>

namespace pgdual::metrics {

MetricView::MetricView(const prometheus::Registry& registry) {
  for (const auto& family : registry.Collect()) {
    auto& out = families_[family.name];
    for (const auto& metric : family.metric) {
      MetricSeries s;
      for (const auto& label : metric.label) s.labels.emplace(label.name, label.value);
      switch (family.type) {
        case prometheus::MetricType::Counter:
          s.value = metric.counter.value;
          break;
        case prometheus::MetricType::Gauge:
          s.value = metric.gauge.value;
          break;
        case prometheus::MetricType::Histogram:
          s.value = static_cast<double>(metric.histogram.sample_count);
          s.sum = metric.histogram.sample_sum;
          break;
        default:
          s.value = metric.untyped.value;
          break;
      }
      out.push_back(std::move(s));
    }
  }
}

bool labels_match(const LabelSet& labels, const LabelSet& match) {
  for (const auto& [name, value] : match) {
    const auto it = labels.find(name);
    if (it == labels.end() || it->second != value) return false;
  }
  return true;
}

const std::vector<MetricSeries>& MetricView::series(std::string_view family) const {
  static const std::vector<MetricSeries> kNone;
  const auto it = families_.find(family);
  return it == families_.end() ? kNone : it->second;
}

double MetricView::sum(std::string_view family, const LabelSet& match) const {
  double total = 0;
  for (const auto& s : series(family)) {
    if (labels_match(s.labels, match)) total += s.value;
  }
  return total;
}

std::optional<double> MetricView::value(std::string_view family, const LabelSet& match) const {
  for (const auto& s : series(family)) {
    if (labels_match(s.labels, match)) return s.value;
  }
  return std::nullopt;
}

std::vector<std::string> MetricView::label_values(std::string_view family,
                                                  std::string_view label) const {
  std::set<std::string> values;
  for (const auto& s : series(family)) {
    if (const auto it = s.labels.find(label); it != s.labels.end()) values.insert(it->second);
  }
  return {values.begin(), values.end()};
}

}  // namespace pgdual::metrics
