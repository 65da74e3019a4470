#include "config/files.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>

namespace pgdual::config {

std::string resolve_path(std::string_view base_dir, std::string_view path) {
  const std::filesystem::path p(path);
  if (p.empty() || p.is_absolute() || base_dir.empty()) return std::string(path);
  return (std::filesystem::path(base_dir) / p).lexically_normal().string();
}

std::optional<std::string> unreadable_reason(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::string(std::strerror(errno));
  if (S_ISDIR(st.st_mode)) return std::string("is a directory");
  if (!S_ISREG(st.st_mode)) return std::string("is not a regular file");
  if (::access(path.c_str(), R_OK) != 0) return std::string(std::strerror(errno));
  return std::nullopt;
}

SecretFile read_secret_file(const std::string& path, std::size_t max_size) {
  SecretFile out;
  if (auto reason = unreadable_reason(path)) {
    out.error = "cannot read " + path + ": " + *reason;
    return out;
  }
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0) {
    out.readable_by_others = (st.st_mode & (S_IRWXG | S_IRWXO)) != 0;
    if (static_cast<std::size_t>(st.st_size) > max_size) {
      out.error = path + " is larger than " + std::to_string(max_size) +
                  " bytes; expected a file holding only the secret";
      return out;
    }
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.error = "cannot read " + path + ": " + std::strerror(errno);
    return out;
  }
  out.value.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  if (in.bad()) {
    out.value.clear();
    out.error = "cannot read " + path;
    return out;
  }
  while (!out.value.empty() && (out.value.back() == '\n' || out.value.back() == '\r')) {
    out.value.pop_back();
  }
  if (out.value.empty()) out.error = path + " is empty";
  return out;
}

}  // namespace pgdual::config
