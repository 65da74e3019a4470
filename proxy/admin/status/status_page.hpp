#pragma once
// The page /status on admin_listen (docs/operations.md): static HTML, a style sheet and a script
// that reads /status.json every few seconds and fills the tables. Everything is served by pgdual
// itself (no CDN: admin endpoints are often on networks without one), and the script writes
// values with textContent only, never as HTML, so a table or column name cannot inject markup.

#include <string_view>

namespace pgdual::proxy::status {

std::string_view page_html();
std::string_view page_script();
std::string_view page_style();

}  // namespace pgdual::proxy::status
