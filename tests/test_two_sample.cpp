// MMD^2 and the energy distance against their closed forms between Gaussians (MATH.md section 5): unbiasedness over
// replicates, the variance estimate against the spread over replicates, the permutation test's level under the null.
#define BOOST_TEST_MODULE two_sample
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <vector>

#include <Eigen/Dense>

#include "pushpull/errors.hpp"
#include "pushpull/two_sample.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

PointMatrix Gaussian(std::int64_t n, const VectorXd& mean, const MatrixXd& cov, std::mt19937_64& rng) {
  std::normal_distribution<double> g(0.0, 1.0);
  const MatrixXd l = cov.llt().matrixL();
  PointMatrix p(n, mean.size());
  for (std::int64_t i = 0; i < n; ++i) {
    VectorXd z(mean.size());
    for (Eigen::Index k = 0; k < z.size(); ++k) z[k] = g(rng);
    p.row(i) = (mean + l * z).transpose();
  }
  return p;
}

double Phi(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
// Folded-normal mean E|N(mu, s^2)| (MATH.md section 5).
double Folded(double mu, double s) {
  return s * std::sqrt(2.0 / M_PI) * std::exp(-mu * mu / (2 * s * s)) + mu * (1 - 2 * Phi(-mu / s));
}

struct Moments {
  double mean = 0, var = 0, mean_estimated_var = 0;
};
Moments Summarise(const std::vector<double>& v, const std::vector<double>& est) {
  Moments m;
  const double r = static_cast<double>(v.size());
  for (const double x : v) m.mean += x / r;
  for (const double x : v) m.var += (x - m.mean) * (x - m.mean) / (r - 1);
  for (const double x : est) m.mean_estimated_var += x / r;
  return m;
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_options_are_valid) { BOOST_TEST(TwoSampleOptions{}.Validate() == ""); }

BOOST_AUTO_TEST_CASE(closed_form_kernel_mean_against_quadrature_1d) {
  // E exp(-Z^2 / (2 h^2)), Z ~ N(mu, s^2), by the trapezoidal rule.
  const double mu = 0.7, s = 1.3, h = 0.8;
  double q = 0;
  const double dz = 1e-3;
  for (double z = mu - 12 * s; z <= mu + 12 * s; z += dz) {
    q += std::exp(-z * z / (2 * h * h)) * std::exp(-(z - mu) * (z - mu) / (2 * s * s)) / (s * std::sqrt(2 * M_PI)) * dz;
  }
  BOOST_TEST(GaussianKernelMean(VectorXd::Constant(1, mu), MatrixXd::Constant(1, 1, s * s), h) == q,
             boost::test_tools::tolerance(1e-9));
}

BOOST_AUTO_TEST_CASE(mmd_unbiased_and_variance_against_replicates) {
  VectorXd m1(2), m2(2);
  m1 << 0.0, 0.0;
  m2 << 0.5, 0.2;
  MatrixXd s1(2, 2), s2(2, 2);
  s1 << 1.0, 0.3, 0.3, 0.8;
  s2 << 1.2, 0.0, 0.0, 0.7;
  TwoSampleOptions o;
  o.bandwidth = 1.0;  // fixed grid: h = 2^(l/2), l = -2..2
  o.permutations = 0;
  o.energy = false;
  o.threads = 1;
  const int replicates = 300, n = 150, m = 200;
  std::mt19937_64 rng(2024);
  const int levels = 5;
  std::vector<std::vector<double>> values(levels), variances(levels);
  std::vector<double> h(levels);
  for (int r = 0; r < replicates; ++r) {
    const auto res = CompareSamples(Gaussian(n, m1, s1, rng), Gaussian(m, m2, s2, rng), o);
    BOOST_REQUIRE(res.usable());
    BOOST_REQUIRE(res.mmd.size() == static_cast<std::size_t>(levels));
    for (int q = 0; q < levels; ++q) {
      values[q].push_back(res.mmd[q].value);
      variances[q].push_back(res.mmd[q].variance);
      h[q] = res.mmd[q].bandwidth;
    }
  }
  for (int q = 0; q < levels; ++q) {
    const double exact = GaussianMmd2(m1, s1, m2, s2, h[q]);
    const Moments mo = Summarise(values[q], variances[q]);
    const double se = std::sqrt(mo.var / replicates);
    BOOST_TEST_MESSAGE("h=" << h[q] << " mean MMD^2 " << mo.mean << " closed form " << exact << " (" << (mo.mean - exact) / se
                            << " standard errors); variance: estimated " << mo.mean_estimated_var << " empirical "
                            << mo.var << " ratio " << mo.mean_estimated_var / mo.var);
    BOOST_TEST(std::abs(mo.mean - exact) <= 4 * se);
    // The empirical variance over 300 replicates has its own relative error ~ sqrt(2/299) = 8%.
    BOOST_TEST(std::abs(mo.mean_estimated_var / mo.var - 1) <= 0.15);
  }
}

BOOST_AUTO_TEST_CASE(energy_distance_unbiased_1d) {
  const double a = 0.3, sa = 1.0, b = -0.2, sb = 1.5;
  const double exact = 2 * Folded(a - b, std::sqrt(sa * sa + sb * sb)) - Folded(0, std::sqrt(2.0) * sa) -
                       Folded(0, std::sqrt(2.0) * sb);
  TwoSampleOptions o;
  o.permutations = 0;
  o.bandwidth_levels = 0;
  o.threads = 1;
  std::mt19937_64 rng(77);
  std::vector<double> v, est;
  const int replicates = 300;
  for (int r = 0; r < replicates; ++r) {
    const auto res = CompareSamples(Gaussian(120, VectorXd::Constant(1, a), MatrixXd::Constant(1, 1, sa * sa), rng),
                                    Gaussian(100, VectorXd::Constant(1, b), MatrixXd::Constant(1, 1, sb * sb), rng), o);
    v.push_back(res.energy.value);
    est.push_back(res.energy.variance);
  }
  const Moments mo = Summarise(v, est);
  const double se = std::sqrt(mo.var / replicates);
  BOOST_TEST_MESSAGE("energy: mean " << mo.mean << " closed form " << exact << " (" << (mo.mean - exact) / se
                                     << " se); variance estimated " << mo.mean_estimated_var << " empirical " << mo.var);
  BOOST_TEST(std::abs(mo.mean - exact) <= 4 * se);
  BOOST_TEST(std::abs(mo.mean_estimated_var / mo.var - 1) <= 0.15);
}

BOOST_AUTO_TEST_CASE(permutation_test_level_under_null) {
  TwoSampleOptions o;
  o.permutations = 99;
  o.bandwidth_levels = 1;
  o.threads = 1;
  VectorXd m0 = VectorXd::Zero(2);
  MatrixXd s0 = MatrixXd::Identity(2, 2);
  std::mt19937_64 rng(99);
  const int replicates = 200;
  std::vector<int> rejections(4, 0);
  std::vector<double> values, est;
  for (int r = 0; r < replicates; ++r) {
    o.seed = r;
    const auto res = CompareSamples(Gaussian(30, m0, s0, rng), Gaussian(30, m0, s0, rng), o);
    for (int q = 0; q < 3; ++q) rejections[q] += res.mmd[q].p_value <= 0.05;
    rejections[3] += res.energy.p_value <= 0.05;
    values.push_back(res.mmd[1].value);
    est.push_back(res.mmd[1].variance);
  }
  // Binomial(200, 0.05): mean 10, sd 3.1; a valid test's rejection count lies in [0, 22] (4 sd) and the test is not
  // degenerate (at least 1).
  for (int q = 0; q < 4; ++q) {
    BOOST_TEST_MESSAGE("kernel " << q << ": " << rejections[q] << " rejections of 200 at level 0.05");
    BOOST_TEST(rejections[q] <= 22);
    BOOST_TEST(rejections[q] >= 1);
  }
  const Moments mo = Summarise(values, est);
  BOOST_TEST_MESSAGE("null (n = 30): mean MMD^2 " << mo.mean << " (closed form 0), variance estimated "
                                                  << mo.mean_estimated_var << " empirical " << mo.var);
  BOOST_TEST(std::abs(mo.mean) <= 4 * std::sqrt(mo.var / replicates));
}

BOOST_AUTO_TEST_CASE(results_do_not_depend_on_threads) {
  std::mt19937_64 rng(5);
  const PointMatrix x = Gaussian(700, VectorXd::Zero(3), MatrixXd::Identity(3, 3), rng);
  const PointMatrix y = Gaussian(650, VectorXd::Constant(3, 0.1), MatrixXd::Identity(3, 3), rng);
  TwoSampleOptions o;
  o.permutations = 3;
  o.threads = 1;
  const auto r1 = CompareSamples(x, y, o);
  o.threads = 2;
  const auto r2 = CompareSamples(x, y, o);
  for (std::size_t q = 0; q < r1.mmd.size(); ++q) {
    BOOST_TEST(r1.mmd[q].value == r2.mmd[q].value);
    BOOST_TEST(r1.mmd[q].variance == r2.mmd[q].variance);
    BOOST_TEST(r1.mmd[q].exceedances == r2.mmd[q].exceedances);
  }
  BOOST_TEST(r1.energy.value == r2.energy.value);
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
  std::mt19937_64 rng(1);
  const PointMatrix x = Gaussian(10, VectorXd::Zero(2), MatrixXd::Identity(2, 2), rng);
  const PointMatrix y = Gaussian(10, VectorXd::Zero(3), MatrixXd::Identity(3, 3), rng);
  BOOST_CHECK_THROW(CompareSamples(x, y), InputError);
  BOOST_CHECK_THROW(CompareSamples(x.topRows(3), x), InputError);
}
