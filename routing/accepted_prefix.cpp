#include "routing/accepted_prefix.hpp"

#include <pg_query.h>

#include <cstdint>
#include <optional>
#include <span>

#include "protocol/constants.hpp"
#include "protocol/frame_decoder.hpp"
#include "protocol/frontend_messages.hpp"

namespace pgdual::routing {
namespace {

std::span<const std::uint8_t> as_bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

// The first `count` statements of a Query's text, or nothing when it cannot be split.
std::optional<std::string> first_statements(std::string_view sql, std::size_t count) {
  const std::string text(sql);
  PgQuerySplitResult split = pg_query_split_with_scanner(text.c_str());
  std::optional<std::string> kept;
  if (split.error == nullptr && static_cast<std::size_t>(split.n_stmts) >= count) {
    const PgQuerySplitStmt* last = split.stmts[count - 1];
    kept = text.substr(0, static_cast<std::size_t>(last->stmt_location + last->stmt_len));
  }
  pg_query_free_split_result(split);
  return kept;
}

}  // namespace

AcceptedPrefix accepted_prefix(std::string_view frames, std::size_t completed) {
  AcceptedPrefix result;
  if (completed == 0) return result;
  std::size_t offset = 0, executes = 0;
  while (offset < frames.size()) {
    auto decoded =
        protocol::decode_frame(as_bytes(frames.substr(offset)), false, std::size_t{1} << 30);
    if (decoded.status != protocol::DecodeStatus::ready) break;
    const protocol::Frame& frame = decoded.frame;
    if (frame.type == protocol::frontend::kQuery) {
      // A Query is a unit of its own: its text without the terminating NUL.
      std::string_view sql(reinterpret_cast<const char*>(frame.payload.data()),
                           frame.payload.empty() ? 0 : frame.payload.size() - 1);
      auto kept = first_statements(sql, completed);
      if (!kept) {
        result.kind = AcceptedPrefix::Kind::unknown;
        return result;
      }
      result.kind = AcceptedPrefix::Kind::prefix;
      result.bytes = protocol::query_message(*kept);
      return result;
    }
    offset += frame.size;
    if (frame.type == protocol::frontend::kExecute && ++executes == completed) {
      result.kind = AcceptedPrefix::Kind::prefix;
      result.bytes.assign(frames.substr(0, offset));
      protocol::append_sync(result.bytes);
      return result;
    }
  }
  // Fewer statements than the primary completed: these frames are not the unit it ran.
  result.kind = AcceptedPrefix::Kind::unknown;
  return result;
}

}  // namespace pgdual::routing
