#pragma once

// Builders and parsers of individual protocol messages ("Message Formats" in the PostgreSQL
// protocol documentation). Builders append one complete message (type byte and length word
// included) to a byte buffer held in a std::string. Parsers take a frame payload (the bytes after
// the length word, as decode_frame reports it), return std::nullopt on malformed input, never read
// out of bounds, and require the whole payload to be consumed. Views they return point into the
// payload.
//
// The one header callers include; the messages are declared by direction:
//   protocol/frontend_messages.hpp  client -> server
//   protocol/backend_messages.hpp   server -> client
//   protocol/error_fields.hpp       ErrorResponse / NoticeResponse fields
//   protocol/message_writer.hpp     MessageWriter, for message shapes not listed there

#include "protocol/backend_messages.hpp"
#include "protocol/constants.hpp"
#include "protocol/error_fields.hpp"
#include "protocol/frontend_messages.hpp"
#include "protocol/message_writer.hpp"
