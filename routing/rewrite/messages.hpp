#pragma once
// Wire-message edits for the parameter mode of the deterministic rewrite: a named prepared
// statement keeps its text for every execution, so its non-deterministic values become extra
// parameters ($n) that each Bind supplies, and the client must not see them in the
// statement's ParameterDescription. Pure.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "protocol/messages.hpp"

namespace pgdual::routing {

// The Parse's parameter types for the rewritten text: the client's, padded with 0 ("let the
// server infer") up to `client_parameters`, then the added ones.
std::vector<std::int32_t> extended_parameter_types(const std::vector<std::int32_t>& client_types,
                                                   std::size_t client_parameters,
                                                   const std::vector<std::int32_t>& added);

// The Bind message with `extra` appended as text-format parameters (nullopt: NULL). The client's
// format codes are expanded to one per parameter where needed (a single code applies to all of
// them). nullopt when the client's Bind does not have exactly `client_parameters` values.
std::optional<std::string> bind_with_extra_parameters(
    const protocol::BindMessage& bind, std::size_t client_parameters,
    const std::vector<std::optional<std::string>>& extra);

// A ParameterDescription ('t') frame that lists only the first `keep` parameters; nullopt
// when the payload is malformed or has fewer.
std::optional<std::string> trimmed_parameter_description(std::span<const std::uint8_t> payload,
                                                         std::size_t keep);

}  // namespace pgdual::routing
