#pragma once

// Splits a byte stream into protocol messages ("frames") without copying and without I/O.
// The caller owns the buffer: it appends what the socket delivered, calls decode_frame, and on
// `ready` handles frame.payload and then drops frame.size bytes from the front. A frame is reported
// only when it is complete, so a partial message is never consumed. After `error` the stream has
// lost its message boundaries: the caller must end the session rather than resynchronise.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

namespace pgdual::protocol {

enum class DecodeStatus { ready, need_more, error };

struct Frame {
  char type = 0;                          // 0 for startup-phase packets (no type byte)
  std::span<const std::uint8_t> payload;  // bytes after the length word
  std::size_t size = 0;                   // whole frame length in the buffer (header included)
};

struct DecodeResult {
  DecodeStatus status;
  Frame frame;
  std::string error;
};

// Decodes one frame at the start of `buffer`. startup_phase: packets are [int32 len][payload]
// (len includes itself); otherwise [type][int32 len][payload]. Validates the length word (< 4 is an
// error; > max_message_size is an error "message of N bytes exceeds max_message_size M", decided
// from the header alone, before the body arrives) and, when not startup_phase, that the type byte
// is a known frontend type if `check_frontend_type` is true. Startup-phase packets must be 8 to
// kMaxStartupPacketLength (10000) bytes whatever max_message_size says.
DecodeResult decode_frame(std::span<const std::uint8_t> buffer, bool startup_phase,
                          std::size_t max_message_size, bool check_frontend_type = false);

}  // namespace pgdual::protocol
