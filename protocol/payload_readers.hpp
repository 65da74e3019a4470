#pragma once
// Readers of payload shapes that frontend and backend messages share (a value list in Bind and
// DataRow, a lone string in Query and CommandComplete). Internal to protocol/: the parsers in
// frontend_messages.cpp and backend_messages.cpp use them.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

#include "protocol/message_reader.hpp"

namespace pgdual::protocol {

// Reserve no more than the payload could possibly hold, so a forged count cannot make us
// allocate much.
template <typename T>
void reserve_bounded(std::vector<T>& v, std::size_t count, std::size_t remaining,
                     std::size_t min_wire_size) {
  v.reserve(std::min(count, remaining / min_wire_size));
}

// Int16 count, then per value Int32 length (-1 = NULL) and the bytes (Bind, DataRow).
bool read_value_list(MessageReader& r,
                     std::vector<std::optional<std::span<const std::uint8_t>>>& out);

// A payload that is exactly one NUL-terminated string.
std::optional<std::string_view> parse_single_cstring(std::span<const std::uint8_t> payload);

}  // namespace pgdual::protocol
