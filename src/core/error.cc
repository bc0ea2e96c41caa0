#include "astrofm/error.h"

namespace astrofm {

const char* error_kind_name(ErrorKind k) {
  switch (k) {
    case ErrorKind::InvalidInput: return "invalid_input";
    case ErrorKind::NotFound: return "not_found";
    case ErrorKind::Corrupt: return "corrupt";
    case ErrorKind::IO: return "io";
    case ErrorKind::Usage: return "usage";
  }
  return "invalid_input";
}

void assert_failed(const char* cond, const char* file, int line, const std::string& msg) {
  throw InternalError(fmt::format("internal error at {}:{}: {} ({}) -- please report", file, line, msg.empty() ? "assertion failed" : msg, cond));
}

}  // namespace astrofm
