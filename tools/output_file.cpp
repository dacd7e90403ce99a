#include "tools/output_file.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <unistd.h>

#include <fmt/format.h>

#include "scenarios/diagnostics.h"

namespace memsim::tools {

void write_output(const std::string& path, const std::function<void(std::ostream&)>& write) {
  if (path.empty() || path == "-") {
    write(std::cout);
    std::cout.flush();
    return;
  }
  const std::string temp = fmt::format("{}.tmp.{}", path, ::getpid());
  {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) {
      throw scenarios::InputError({path, 0, 0},
                                  fmt::format("cannot write file: {}", std::strerror(errno)));
    }
    write(out);
    out.flush();
    if (!out) {
      std::remove(temp.c_str());
      throw scenarios::InputError({path, 0, 0}, "cannot write file: write failed");
    }
  }
  if (std::rename(temp.c_str(), path.c_str()) != 0) {
    const std::string reason = std::strerror(errno);
    std::remove(temp.c_str());
    throw scenarios::InputError({path, 0, 0}, fmt::format("cannot write file: {}", reason));
  }
}

}  // namespace memsim::tools
