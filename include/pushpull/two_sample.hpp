// Two-sample statistics between point sets X (n x d) and Y (m x d): the maximum mean discrepancy with Gaussian kernels
// on a bandwidth grid, and the energy distance, each as an unbiased U-statistic with a variance estimate and a
// permutation p-value.
//
//   MMD^2_k = E k(X, X') + E k(Y, Y') - 2 E k(X, Y), estimated by
//   U = 1/(n(n-1)) sum_{i != j} k(x_i, x_j) + 1/(m(m-1)) sum_{i != j} k(y_i, y_j) - 2/(nm) sum_{i,j} k(x_i, y_j);
//   Gaussian kernel k(x, y) = exp(-||x - y||^2 / (2 h^2)); grid h^2 = h_c^2 2^l for l = -L..L (-mmd_bandwidth_levels),
//   centre h_c = -mmd_bandwidth_scale times the median heuristic (the median of the pairwise distances of the pooled
//   sample; of a seeded subsample of -mmd_median_subsample pooled points when the pooled sample is larger), or
//   -mmd_bandwidth when given. Consecutive levels differ by a factor 2 in h^2 because exp(-t / 2) squared is exp(-t):
//   one exponential per pair serves the whole grid.
//   Energy distance E = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||: the same U-statistic with k(x, y) = -||x - y||.
// Variance: the Hoeffding decomposition of a two-sample U-statistic of degree (2, 2) (see two_sample.cpp), terms up to
// second order, estimated from per-point kernel row sums in the same O((n + m)^2) pass.
// Permutation p-value: (1 + #{permutations with U >= U_observed}) / (1 + P), P = -mmd_permutations relabellings of the
// pooled sample by std::mt19937_64 seeded with -mmd_seed (Fisher-Yates); each permutation costs one more pass.
// Cost: (n + m)(n + m - 1) / 2 kernel evaluations per pass (each unordered pair once, in symmetric tiles: a work item
// takes a fixed block of rows against the columns to their right and hands its column sums to the ordered emit, so
// the result does not depend on the thread count), one exponential per pair for the whole bandwidth grid, vectorised
// 8 lanes at a time.
#pragma once

#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <Eigen/Core>

#include "pushpull/optimal_transport.hpp"  // PointMatrix

namespace pushpull {

class OptionsDatabase;

struct TwoSampleOptions {
  int bandwidth_levels = 2;          // -mmd_bandwidth_levels: L, the grid has 2 L + 1 bandwidths
  double bandwidth_scale = 1.0;      // -mmd_bandwidth_scale: centre = scale * median pairwise distance
  double bandwidth = 0.0;            // -mmd_bandwidth: the centre bandwidth; 0 = the median heuristic
  std::int64_t median_subsample = 2000;  // -mmd_median_subsample: pooled points used for the median at most
  int permutations = 100;            // -mmd_permutations: 0 = no p-values
  std::int64_t seed = 14;            // -mmd_seed: seed of std::mt19937_64 (subsample and permutations)
  bool energy = true;                // -mmd_energy: also the energy distance
  int threads = 0;                   // -mmd_threads: 0 = all cores (results do not depend on it)

  void SetFromOptions(OptionsDatabase& db, std::string_view prefix = "");
  std::string Validate() const;
};

struct TwoSampleStatistic {
  std::string name;          // "mmd2" or "energy"
  double bandwidth = std::numeric_limits<double>::quiet_NaN();  // h of the Gaussian kernel (NaN for energy)
  double value = 0;          // the unbiased U-statistic
  double variance = 0;       // its estimated variance
  double standard_error = 0; // sqrt(max(variance, 0))
  double p_value = std::numeric_limits<double>::quiet_NaN();  // permutation p-value (NaN without permutations)
  std::int64_t exceedances = 0;  // permutations with U >= value
};

enum class TwoSampleStatus { kSuccess = 0, kNumericalFailure = 1 };
const char* ToString(TwoSampleStatus status);
bool Usable(TwoSampleStatus status);

struct TwoSampleResult {
  TwoSampleStatus status = TwoSampleStatus::kSuccess;
  std::string message;
  bool usable() const { return Usable(status); }
  double median_distance = 0;      // the median heuristic (pooled pairwise distances)
  std::int64_t median_points = 0;  // pooled points it was computed from (< n + m: a seeded subsample)
  std::vector<TwoSampleStatistic> mmd;  // one per bandwidth, ascending h
  TwoSampleStatistic energy;            // name empty when -mmd_energy is false
  int permutations = 0;
  std::uint64_t seed = 0;
  double seconds = 0;
};

TwoSampleResult CompareSamples(const PointMatrix& x, const PointMatrix& y, const TwoSampleOptions& options = {});

// Closed forms (validation): the mean of k(x, y) = exp(-||x - y||^2 / (2 h^2)) over a Gaussian difference
// x - y ~ N(mu, sigma): h^d det(h^2 I + sigma)^(-1/2) exp(-mu^T (h^2 I + sigma)^(-1) mu / 2); and MMD^2 between
// N(m1, s1) and N(m2, s2) = G(0, 2 s1) + G(0, 2 s2) - 2 G(m1 - m2, s1 + s2).
double GaussianKernelMean(const Eigen::VectorXd& mu, const Eigen::MatrixXd& sigma, double h);
double GaussianMmd2(const Eigen::VectorXd& m1, const Eigen::MatrixXd& s1, const Eigen::VectorXd& m2,
                    const Eigen::MatrixXd& s2, double h);

}  // namespace pushpull
