#pragma once
// Buffers bytes from a PgStream and hands out whole protocol frames.
// Frames are views into the buffer: valid until the next fill() call.
// Consecutive frames are contiguous, so a relay forwards them with one write.
//
// An idle connection holds no buffer: on a plain connection, once everything read has been
// handed out and taken, fill() gives its buffer back to a per-thread pool and waits for the
// socket to become readable before it takes one again. Most sessions of a large pool are idle
// at any moment, so their memory is the few that are busy. (A TLS connection keeps its
// buffer: OpenSSL may hold decrypted bytes the socket no longer shows.) A reader that keeps
// finding data lets the worker's other sessions run after every 16 full reads.

#include <boost/asio/awaitable.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "protocol/frame_decoder.hpp"
#include "proxy/net/pg_stream.hpp"

namespace pgdual::proxy {

class FrameReader {
 public:
  enum class Status { ok, closed, io_error, protocol_error, cancelled };

  FrameReader(PgStream& stream, std::size_t max_message_size, bool check_frontend_types);

  // Reads until at least one complete frame is buffered (none is, if not ok).
  boost::asio::awaitable<Status> fill();

  // The next complete buffered frame, or nullopt when the buffered bytes
  // hold no complete frame (call fill()). Sets error() on a framing error.
  std::optional<protocol::Frame> next();

  // Raw bytes of the frames returned by next() since the last take_raw().
  std::string_view take_raw();
  // The same, but without the frame next() returned last, which stays
  // pending (for a caller that must not forward that frame).
  std::string_view take_raw_before_last();

  bool has_buffered_bytes() const { return end_ > begin_; }
  // Bytes of buffer held now (0 while idle on a plain connection).
  std::size_t buffer_capacity() const { return buffer_.size(); }
  void set_startup_phase(bool startup) { startup_phase_ = startup; }
  void set_max_message_size(std::size_t size) { max_message_size_ = size; }
  const std::string& error() const { return error_; }
  PgStream& stream() { return stream_; }

 private:
  PgStream& stream_;
  std::vector<std::uint8_t> buffer_;
  std::size_t raw_begin_ = 0;   // start of frames handed out but not yet taken as raw
  std::size_t begin_ = 0;       // start of frames not yet handed out
  std::size_t last_frame_ = 0;  // start of the frame next() returned last
  std::size_t end_ = 0;         // end of buffered bytes
  std::size_t max_message_size_;
  bool check_frontend_types_;
  bool startup_phase_ = false;
  bool failed_ = false;
  std::string error_;
  // The last read filled all the room it had: more is probably waiting in the kernel.
  bool more_likely_ = false;
  int reads_without_wait_ = 0;

  void release_buffer_if_idle();
  void take_buffer(std::size_t needed);
  boost::asio::awaitable<Status> read_plain();
  boost::asio::awaitable<Status> read_async();  // TLS, or a socket not in non-blocking mode
};

}  // namespace pgdual::proxy
