#include "pushpull/version.hpp"

#include <H5public.h>
#include <ceres/version.h>
#include <sundials/sundials_config.h>

#include <Eigen/Core>

#include "pushpull/build_info.hpp"

namespace pushpull {
namespace build {
const char* git_commit();  // generated at build time by cmake/git_commit.cmake
}

std::string Version() { return PUSHPULL_VERSION_STRING; }
std::string GitCommit() { return build::git_commit(); }
std::string SundialsVersion() { return SUNDIALS_VERSION; }
std::string CeresVersion() { return CERES_VERSION_STRING; }
std::string Hdf5Version() {
  unsigned major = 0, minor = 0, release = 0;
  H5get_libversion(&major, &minor, &release);
  return std::to_string(major) + "." + std::to_string(minor) + "." + std::to_string(release);
}
std::string EigenVersion() {
  return std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." +
         std::to_string(EIGEN_MINOR_VERSION);
}
std::string BuildDescription() { return std::string(PUSHPULL_BUILD_TYPE) + ", " + PUSHPULL_CXX_COMPILER; }

std::string VersionReport() {
  return "pushpull " + Version() + " (git " + GitCommit() + "; " + BuildDescription() + ")\n" +
         "  SUNDIALS " + SundialsVersion() + "\n  Ceres " + CeresVersion() + "\n  HDF5 " + Hdf5Version() +
         "\n  Eigen " + EigenVersion() + "\n";
}

}  // namespace pushpull
