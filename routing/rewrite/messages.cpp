#include "routing/rewrite/messages.hpp"

#include "protocol/message_reader.hpp"

namespace pgdual::routing {

std::vector<std::int32_t> extended_parameter_types(const std::vector<std::int32_t>& client_types,
                                                   std::size_t client_parameters,
                                                   const std::vector<std::int32_t>& added) {
  std::vector<std::int32_t> types = client_types;
  types.resize(std::max(client_parameters, client_types.size()), 0);
  types.insert(types.end(), added.begin(), added.end());
  return types;
}

std::optional<std::string> bind_with_extra_parameters(
    const protocol::BindMessage& bind, std::size_t client_parameters,
    const std::vector<std::optional<std::string>>& extra) {
  if (bind.params.size() != client_parameters) return std::nullopt;
  std::vector<std::int16_t> formats;
  if (!bind.param_formats.empty() || !extra.empty()) {
    if (bind.param_formats.size() == 1) {
      formats.assign(client_parameters, bind.param_formats.front());
    } else if (bind.param_formats.size() == client_parameters) {
      formats = bind.param_formats;
    } else if (bind.param_formats.empty()) {
      formats.assign(client_parameters, 0);
    } else {
      return std::nullopt;  // the server would refuse it too
    }
    formats.insert(formats.end(), extra.size(), 0);  // ours are text
  }
  std::vector<std::optional<std::string>> values;
  values.reserve(client_parameters + extra.size());
  for (const auto& param : bind.params) {
    if (param) {
      values.emplace_back(std::string(reinterpret_cast<const char*>(param->data()), param->size()));
    } else {
      values.emplace_back();
    }
  }
  values.insert(values.end(), extra.begin(), extra.end());
  std::string bytes;
  protocol::append_bind(bytes, bind.portal, bind.statement, formats, values, bind.result_formats);
  return bytes;
}

std::optional<std::string> trimmed_parameter_description(std::span<const std::uint8_t> payload,
                                                         std::size_t keep) {
  protocol::MessageReader reader(payload);
  auto count = reader.int16();
  if (!count || *count < 0 || static_cast<std::size_t>(*count) < keep) return std::nullopt;
  std::vector<std::uint32_t> types;
  for (int i = 0; i < *count; ++i) {
    auto type = reader.uint32();
    if (!type) return std::nullopt;
    if (static_cast<std::size_t>(i) < keep) types.push_back(*type);
  }
  std::string frame = "t";
  const std::uint32_t length = 4 + 2 + 4 * static_cast<std::uint32_t>(types.size());
  for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(length >> shift));
  frame.push_back(static_cast<char>(keep >> 8));
  frame.push_back(static_cast<char>(keep));
  for (std::uint32_t type : types) {
    for (int shift = 24; shift >= 0; shift -= 8) frame.push_back(static_cast<char>(type >> shift));
  }
  return frame;
}

}  // namespace pgdual::routing
