// Exceptions that cross the public API.
//
// pushpull throws only for problems with what the caller asked for (bad options, unreadable or malformed
// input files, impossible settings). Numerical trouble with one item (a sample whose integration fails, a
// geodesic that does not converge) is never thrown: it is returned as a per-item status (see status.hpp).
#pragma once

#include <stdexcept>
#include <string>

namespace pushpull {

// Bad input: an option, a file, a dataset or a value the caller supplied. The message names the offending
// option, file or value. The CLI maps it to exit code 2 ("bad input or options, nothing computed").
class InputError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// An I/O failure that is not the caller's fault (disk full, rename failed, HDF5 library error).
class IoError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace pushpull
