#include "protocol/payload_readers.hpp"

namespace pgdual::protocol {

bool read_value_list(MessageReader& r,
                     std::vector<std::optional<std::span<const std::uint8_t>>>& out) {
  auto count = r.int16();
  if (!count || *count < 0) return false;
  reserve_bounded(out, static_cast<std::size_t>(*count), r.remaining(), 4);
  for (int i = 0; i < *count; ++i) {
    auto length = r.int32();
    if (!length || *length < -1) return false;
    if (*length == -1) {
      out.emplace_back(std::nullopt);
      continue;
    }
    auto value = r.bytes(static_cast<std::size_t>(*length));
    if (!value) return false;
    out.emplace_back(*value);
  }
  return true;
}

std::optional<std::string_view> parse_single_cstring(std::span<const std::uint8_t> payload) {
  MessageReader r(payload);
  auto text = r.cstring();
  if (!text || !r.at_end()) return std::nullopt;
  return text;
}

}  // namespace pgdual::protocol
