// Helpers shared by the Boost.Test executables (include after <boost/test/unit_test.hpp>).
#pragma once

#include <hdf5.h>

#include <Eigen/Core>

#include <cmath>
#include <initializer_list>
#include <utility>
#include <sstream>
#include <string>
#include <vector>

#include "cli/commands.hpp"

#include "pushpull/errors.hpp"
#include "pushpull/options.hpp"

namespace pushpull::testing {

// A point of R^2.
inline Eigen::VectorXd V2(double a, double b) {
  Eigen::VectorXd v(2);
  v << a, b;
  return v;
}

// Stereographic coordinates (from the north pole) of a point of the unit sphere S^2.
inline Eigen::VectorXd FromSphere(const Eigen::Vector3d& p) { return p.head(2) / (1 - p[2]); }

// A pair on the unit sphere at angle pi - gap (stereographic coordinates), both points away from the north pole.
inline std::pair<Eigen::VectorXd, Eigen::VectorXd> NearAntipodal(double gap) {
  const Eigen::Vector3d p(1.0, 0.0, 0.0);
  const Eigen::Vector3d w(0.0, 1.0, 0.0);  // unit, orthogonal to p
  const Eigen::Vector3d q = -std::cos(gap) * p + std::sin(gap) * w;
  return {FromSphere(p), FromSphere(q)};
}

// Whether an InputError's message contains `what` (the message goes to the test log), for BOOST_CHECK_EXCEPTION.
inline bool Mentions(const InputError& e, const std::string& what) {
  BOOST_TEST_MESSAGE("InputError: " << e.what());
  return std::string(e.what()).find(what) != std::string::npos;
}

// Checks that Options::SetFromOptions refuses `option` set to `value` with an InputError mentioning `mention`.
template <class Options>
void CheckOptionRefused(const std::string& option, const std::string& value, const std::string& mention) {
  OptionsDatabase db;
  db.Set(option, value);
  Options o;
  BOOST_CHECK_EXCEPTION(o.SetFromOptions(db), InputError, [&](const InputError& e) { return Mentions(e, mention); });
}

// The state (z, u) moved by +h and -h along its coordinate k (k < d: z_k, otherwise u_{k-d}), for central
// differences with respect to the whole state (test only).
struct StateNeighbours {
  Eigen::VectorXd zp, up, zm, um;
};
inline StateNeighbours PerturbState(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::Index k, double h) {
  StateNeighbours n{z, u, z, u};
  const Eigen::Index d = z.size();
  if (k < d) {
    n.zp[k] += h;
    n.zm[k] -= h;
  } else {
    n.up[k - d] += h;
    n.um[k - d] -= h;
  }
  return n;
}

// Checks that `f` throws InputError whose message contains every fragment.
template <class F>
void ExpectInputError(F&& f, std::initializer_list<std::string> fragments) {
  try {
    f();
  } catch (const InputError& e) {
    const std::string message = e.what();
    for (const auto& fragment : fragments) {
      BOOST_TEST(message.find(fragment) != std::string::npos, "'" << message << "' lacks '" << fragment << "'");
    }
    return;
  }
  BOOST_FAIL("no InputError thrown");
}

// Replaces a string attribute of a group in an existing HDF5 file, as a hand-edited or foreign file would have it.
inline void RewriteStringAttribute(const std::string& file, const std::string& group, const std::string& name,
                                   const std::string& value) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDWR, H5P_DEFAULT);
  hid_t g = H5Gopen2(f, group.c_str(), H5P_DEFAULT);
  if (H5Aexists(g, name.c_str()) > 0) H5Adelete(g, name.c_str());
  hid_t type = H5Tcopy(H5T_C_S1);
  H5Tset_size(type, value.size() + 1);
  hid_t space = H5Screate(H5S_SCALAR);
  hid_t attr = H5Acreate2(g, name.c_str(), type, space, H5P_DEFAULT, H5P_DEFAULT);
  H5Awrite(attr, type, value.c_str());
  H5Aclose(attr);
  H5Sclose(space);
  H5Tclose(type);
  H5Gclose(g);
  H5Fclose(f);
}

// Runs the `pushpull` program in-process: `args` without the program name.
struct CliRun {
  int code;
  std::string out, err;
};
inline CliRun RunCli(std::vector<std::string> args) {
  args.insert(args.begin(), "pushpull");
  std::ostringstream out, err;
  const int code = cli::Main(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace pushpull::testing
