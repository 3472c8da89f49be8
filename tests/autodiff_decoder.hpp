// A reference decoder for tests: the plain forward pass of an MLP differentiated by nested forward-mode dual numbers
// (dual.hpp, functor_decoder.hpp; no hand-written tangents), to check MlpDecoder's analytic derivatives against.
// Test-only: compiled into the test programs that use it (tests/CMakeLists.txt), not part of the library.
#pragma once

#include <memory>

#include "pushpull/decoder.hpp"
#include "pushpull/mlp.hpp"

namespace pushpull::testing {

// Throws InputError for a network with a time input.
std::shared_ptr<const Decoder> MakeAutodiffReferenceDecoder(const Mlp& mlp);

}  // namespace pushpull::testing
