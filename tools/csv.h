#pragma once
/// CSV fields as RFC 4180 wants them: quoted when they hold a comma, quote or newline.

#include <string>

namespace memsim::tools {

std::string csv_field(const std::string& text);

}  // namespace memsim::tools
