#pragma once
/// Where memsim finds GPU profile files at start-up (docs/hardware.md): ./hardware/*.yaml,
/// then every file or directory that MEMSIM_HARDWARE lists.

#include <string>
#include <vector>

namespace memsim::tools {

/// The profile files to read, in order: the *.yaml files of `local_dir` when it is a
/// directory, then for each entry of the colon-separated `path_list` the file itself or the
/// directory's *.yaml files. A directory's files come sorted by name; an entry that does not
/// exist is an InputError.
std::vector<std::string> hardware_files(const std::string& local_dir, const std::string& path_list);

/// Installs the GPU catalog memsim runs with: the built-in profiles, then those of
/// hardware_files("hardware", $MEMSIM_HARDWARE), later ones replacing earlier ones by name.
void install_hardware_catalog();

}  // namespace memsim::tools
