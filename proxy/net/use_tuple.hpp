#pragma once
// The completion token of the data path: error codes as values, never exceptions (an awaited
// operation yields a tuple of its error code and results; see ../shared/style.md, Beast).

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/use_awaitable.hpp>

namespace pgdual::proxy {

inline constexpr auto use_tuple = boost::asio::as_tuple(boost::asio::use_awaitable);

}  // namespace pgdual::proxy
