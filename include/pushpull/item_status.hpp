// The status of one item of a batch (a sample of the pushforward, a pair of a geodesic batch): one shape for both
// engines.
//
// Design: ItemStatus<Code> is a small template over the engine's status enum (OdeStatus for pushforward samples,
// GeodesicStatus for geodesics). It holds the enum's numeric value (the number the HDF5 files store in `status`, so
// the codes of existing files keep their meaning), -1 while the item is not computed, and the message (empty on
// success, otherwise what failed and what to change). Per engine two free functions give the meaning of a code,
// found by argument-dependent lookup: `const char* ToString(Code)` (the name, e.g. "too_much_work") and
// `bool Usable(Code)` (whether the item's result may be used: OdeStatus kSuccess; GeodesicStatus kSuccess and
// kExtrapolated). Results expose `std::vector<SampleStatus>` or `std::vector<PairStatus>`; run_summary.hpp counts
// them and status_output.hpp writes them.
#pragma once

#include <string>
#include <utility>

namespace pushpull {

template <class Code>
struct ItemStatus {
  static constexpr int kNotComputed = -1;

  int value = kNotComputed;  // static_cast<int>(code), the number stored in HDF5; -1 = not computed
  std::string message;       // empty on success; otherwise what failed and what to change

  ItemStatus() = default;
  ItemStatus(Code code, std::string text = {}) : value(static_cast<int>(code)), message(std::move(text)) {}  // NOLINT
  // From a stored number (e.g. an HDF5 `status` row of a resumed run); -1 = not computed.
  static ItemStatus FromValue(int v, std::string text = {}) {
    ItemStatus s;
    s.value = v;
    s.message = std::move(text);
    return s;
  }

  bool computed() const { return value != kNotComputed; }
  Code code() const { return static_cast<Code>(value); }  // meaningful only when computed()
  bool usable() const { return computed() && Usable(code()); }
  bool success() const { return value == 0; }  // code 0 is kSuccess in every engine
  const char* name() const { return computed() ? ToString(code()) : "not_computed"; }
};

enum class OdeStatus;
enum class GeodesicStatus;
using SampleStatus = ItemStatus<OdeStatus>;     // a sample of ComputeDensity / PushSamples (pushforward.hpp)
using PairStatus = ItemStatus<GeodesicStatus>;  // a pair of SolveGeodesics / ComputeDistanceMatrix (geodesic_batch.hpp)

}  // namespace pushpull
