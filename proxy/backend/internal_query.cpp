#include "proxy/backend/internal_query.hpp"

#include "protocol/constants.hpp"

namespace pgdual::proxy {

namespace asio = boost::asio;
namespace backend = protocol::backend;

asio::awaitable<InternalQueryResult> run_internal_query(BackendConnection& connection,
                                                        std::string sql) {
  InternalQueryResult result;
  std::string request;
  protocol::append_query(request, sql);
  if (co_await connection.stream().write_all(request)) co_return result;
  auto& reader = connection.reader();
  bool done = false;
  while (!done) {
    const auto status = co_await reader.fill();
    if (status != FrameReader::Status::ok) co_return result;
    while (auto frame = reader.next()) {
      const char type = frame->type;
      if (type == backend::kDataRow) {
        if (auto row = protocol::parse_data_row(frame->payload)) {
          auto& text_row = result.rows.emplace_back();
          for (const auto& field : *row) {
            if (field) {
              text_row.emplace_back(
                  std::string(reinterpret_cast<const char*>(field->data()), field->size()));
            } else {
              text_row.emplace_back();
            }
          }
        }
      } else if (type == backend::kErrorResponse) {
        result.error = protocol::parse_error_fields(frame->payload);
        if (!result.error) result.error = protocol::make_error("XX000", "malformed error");
      } else if (type == backend::kNotification || type == backend::kNoticeResponse ||
                 type == backend::kParameterStatus) {
        const auto* start = reinterpret_cast<const char*>(frame->payload.data()) - 5;
        result.for_client.append(start, frame->size);
      } else if (type == backend::kReadyForQuery) {
        done = true;
        break;
      }
    }
    reader.take_raw();
  }
  result.ok = !result.error;
  co_return result;
}

}  // namespace pgdual::proxy
