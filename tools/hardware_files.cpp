#include "tools/hardware_files.h"

#include <algorithm>
#include <cstdlib>
#include <filesystem>

#include "scenarios/diagnostics.h"
#include "scenarios/hardware_reader.h"

namespace memsim::tools {

namespace {

namespace fs = std::filesystem;

std::vector<std::string> yaml_files_in(const fs::path& directory) {
  std::vector<std::string> files;
  std::error_code error;
  for (fs::directory_iterator it(directory, error), end; !error && it != end; it.increment(error)) {
    if (it->path().extension() == ".yaml" && it->is_regular_file()) {
      files.push_back(it->path().string());
    }
  }
  if (error) {
    throw scenarios::InputError({directory.string(), 0, 0},
                                "cannot list the directory: " + error.message());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::vector<std::string> hardware_files(const std::string& local_dir,
                                        const std::string& path_list) {
  std::vector<std::string> files;
  if (fs::is_directory(local_dir)) files = yaml_files_in(local_dir);
  size_t start = 0;
  while (start <= path_list.size()) {
    const size_t colon = std::min(path_list.find(':', start), path_list.size());
    const std::string entry = path_list.substr(start, colon - start);
    start = colon + 1;
    if (entry.empty()) continue;  // "a::b" and a trailing colon list nothing more
    if (fs::is_directory(entry)) {
      const std::vector<std::string> found = yaml_files_in(entry);
      files.insert(files.end(), found.begin(), found.end());
    } else if (fs::exists(entry)) {
      files.push_back(entry);
    } else {
      throw scenarios::InputError({entry, 0, 0},
                                  "no such file or directory (listed in MEMSIM_HARDWARE)");
    }
  }
  return files;
}

void install_hardware_catalog() {
  const char* path_list = std::getenv("MEMSIM_HARDWARE");
  hardware::install_gpu_catalog(scenarios::load_gpu_catalog(
      hardware_files("hardware", path_list == nullptr ? "" : path_list)));
}

}  // namespace memsim::tools
