// Versions of pushpull and of the libraries it was built with.
#pragma once

#include <string>

namespace pushpull {

std::string Version();          // "0.1.0"
std::string GitCommit();        // `git describe --always --dirty` of the source tree at build time
std::string SundialsVersion();
std::string CeresVersion();
std::string Hdf5Version();      // of the HDF5 library loaded at run time
std::string EigenVersion();
std::string BuildDescription(); // build type and compiler
// Multi-line report printed by `pushpull -version`.
std::string VersionReport();

}  // namespace pushpull
