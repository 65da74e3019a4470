#include "proxy/net/frame_reader.hpp"

#include <algorithm>
#include <cstring>

namespace pgdual::proxy {

namespace {
constexpr std::size_t kInitialBuffer = 64 * 1024;
constexpr std::size_t kFrameHeader = 5;
}  // namespace

FrameReader::FrameReader(PgStream& stream, std::size_t max_message_size, bool check_frontend_types)
    : stream_(stream),
      buffer_(kInitialBuffer),
      max_message_size_(max_message_size),
      check_frontend_types_(check_frontend_types) {}

std::optional<protocol::Frame> FrameReader::next() {
  if (failed_ || begin_ == end_) return std::nullopt;
  auto result = protocol::decode_frame(std::span(buffer_.data() + begin_, end_ - begin_),
                                       startup_phase_, max_message_size_, check_frontend_types_);
  if (result.status == protocol::DecodeStatus::error) {
    // Message boundaries are lost: nothing after this can be trusted.
    failed_ = true;
    error_ = result.error;
    return std::nullopt;
  }
  if (result.status == protocol::DecodeStatus::need_more) return std::nullopt;
  last_frame_ = begin_;
  begin_ += result.frame.size;
  return result.frame;
}

std::string_view FrameReader::take_raw() {
  std::string_view raw(reinterpret_cast<const char*>(buffer_.data()) + raw_begin_,
                       begin_ - raw_begin_);
  raw_begin_ = begin_;
  return raw;
}

std::string_view FrameReader::take_raw_before_last() {
  const std::size_t end = std::max(raw_begin_, last_frame_);
  std::string_view raw(reinterpret_cast<const char*>(buffer_.data()) + raw_begin_,
                       end - raw_begin_);
  raw_begin_ = end;
  return raw;
}

boost::asio::awaitable<FrameReader::Status> FrameReader::fill() {
  for (;;) {
    if (failed_) co_return Status::protocol_error;
    // Peek whether a complete frame is already buffered (without consuming it).
    if (begin_ < end_) {
      auto peek = protocol::decode_frame(std::span(buffer_.data() + begin_, end_ - begin_),
                                         startup_phase_, max_message_size_, check_frontend_types_);
      if (peek.status == protocol::DecodeStatus::ready) co_return Status::ok;
      if (peek.status == protocol::DecodeStatus::error) {
        failed_ = true;
        error_ = peek.error;
        co_return Status::protocol_error;
      }
    }
    // Drop what was handed out and taken, then make room for the frame.
    if (raw_begin_ == begin_ && begin_ > 0) {
      std::memmove(buffer_.data(), buffer_.data() + begin_, end_ - begin_);
      end_ -= begin_;
      begin_ = raw_begin_ = last_frame_ = 0;
    }
    // Grow to hold the whole pending frame once its length is known.
    std::size_t needed = 4096;
    const std::size_t header = startup_phase_ ? 4 : kFrameHeader;
    if (end_ - begin_ >= header) {
      const std::uint8_t* length_at = buffer_.data() + begin_ + (startup_phase_ ? 0 : 1);
      const std::size_t length = (std::size_t(length_at[0]) << 24) |
                                 (std::size_t(length_at[1]) << 16) |
                                 (std::size_t(length_at[2]) << 8) | std::size_t(length_at[3]);
      const std::size_t frame_end = begin_ + length + (startup_phase_ ? 0 : 1);
      if (frame_end > end_) needed = std::max(needed, frame_end - end_);
    }
    if (buffer_.size() - end_ < needed) buffer_.resize(std::max(buffer_.size() * 2, end_ + needed));
    auto [ec, n] =
        co_await stream_.read_some(std::span(buffer_.data() + end_, buffer_.size() - end_));
    if (ec == boost::asio::error::operation_aborted) co_return Status::cancelled;
    if (ec)
      co_return (ec == boost::asio::error::eof || ec == boost::asio::ssl::error::stream_truncated)
          ? Status::closed
          : Status::io_error;
    end_ += n;
  }
}

}  // namespace pgdual::proxy
