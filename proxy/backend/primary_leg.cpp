#include "proxy/backend/primary_leg.hpp"

#include <algorithm>
#include <iterator>

namespace pgdual::proxy {

PrimaryUnit& PrimaryLeg::open_unit(UnitId id) {
  PrimaryUnit opened;
  opened.id = id;
  opened.sent = std::chrono::steady_clock::now();
  units_.push_back(std::move(opened));
  return units_.back();
}

void PrimaryLeg::insert_before_newest(PrimaryUnit unit) {
  units_.insert(std::prev(units_.end()), std::move(unit));
}

void PrimaryLeg::append(PrimaryUnit unit) { units_.push_back(std::move(unit)); }

bool PrimaryLeg::pending(UnitId id) const {
  return std::any_of(units_.begin(), units_.end(),
                     [&](const PrimaryUnit& unit) { return unit.id == id; });
}

PrimaryUnit* PrimaryLeg::find(UnitId id) {
  auto it = std::find_if(units_.begin(), units_.end(),
                         [&](const PrimaryUnit& unit) { return unit.id == id; });
  return it == units_.end() ? nullptr : &*it;
}

PrimaryUnit PrimaryLeg::finish_oldest(protocol::TxnStatus status) {
  PrimaryUnit unit = std::move(units_.front());
  units_.pop_front();
  status_ = status;
  return unit;
}

}  // namespace pgdual::proxy
