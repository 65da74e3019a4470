#pragma once
// CRC-32C (Castagnoli), the checksum of the replay journal's records and
// frames. Chosen over CRC-32 because it is what storage formats use for the
// same job (iSCSI, ext4 metadata, LevelDB): it detects every burst error of up
// to 32 bits, so any single corrupted byte, and it has hardware support should
// this ever need to be faster. A table-driven software version is plenty for
// one record per secondary failure.

#include <cstdint>
#include <string_view>

namespace pgdual::journal {

// crc32c("123456789") == 0xE3069283. Pass a previous result as `crc` to
// continue a checksum over several pieces.
std::uint32_t crc32c(std::string_view data, std::uint32_t crc = 0);

}  // namespace pgdual::journal
