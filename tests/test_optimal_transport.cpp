// Exact optimal transport (assignment, network simplex) and Sinkhorn against independent computations: brute force
// over permutations, the sorted matching / north-west corner rule in 1-D, the closed-form W2 between Gaussians.
#define BOOST_TEST_MODULE optimal_transport
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <random>
#include <vector>

#include <Eigen/Dense>

#include "pushpull/errors.hpp"
#include "pushpull/optimal_transport.hpp"

using namespace pushpull;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

PointMatrix Uniform(std::int64_t n, std::int64_t d, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  PointMatrix p(n, d);
  for (std::int64_t i = 0; i < n; ++i)
    for (std::int64_t k = 0; k < d; ++k) p(i, k) = u(rng);
  return p;
}

PointMatrix Gaussian(std::int64_t n, const VectorXd& mean, const MatrixXd& cov, std::uint64_t seed) {
  std::mt19937_64 rng(seed);
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

MatrixXd SqrtSpd(const MatrixXd& s) {
  Eigen::SelfAdjointEigenSolver<MatrixXd> es(s);
  return es.eigenvectors() * es.eigenvalues().cwiseSqrt().asDiagonal() * es.eigenvectors().transpose();
}

// MATH.md G3: W2^2 = |m0 - m1|^2 + tr(S0 + S1 - 2 (S0^1/2 S1 S0^1/2)^1/2).
double GaussianW2Squared(const VectorXd& m0, const MatrixXd& s0, const VectorXd& m1, const MatrixXd& s1) {
  const MatrixXd r = SqrtSpd(s0);
  return (m0 - m1).squaredNorm() + (s0 + s1 - 2.0 * SqrtSpd(r * s1 * r)).trace();
}

double BruteForce(const PointMatrix& c) {
  std::vector<int> perm(static_cast<std::size_t>(c.rows()));
  std::iota(perm.begin(), perm.end(), 0);
  double best = std::numeric_limits<double>::infinity();
  do {
    double s = 0;
    for (std::size_t i = 0; i < perm.size(); ++i) s += c(static_cast<Eigen::Index>(i), perm[i]);
    best = std::min(best, s);
  } while (std::next_permutation(perm.begin(), perm.end()));
  return best / static_cast<double>(c.rows());
}

ExactTransportOptions With(const char* solver, const char* cost = "sqeuclidean") {
  ExactTransportOptions o;
  o.solver = solver;
  o.cost = cost;
  return o;
}

void CheckCertificate(const ExactTransportResult& r, double rtol) {
  BOOST_TEST_CONTEXT(r.solver << " n_plan=" << r.masses.size() << " " << r.message) {
    BOOST_TEST(r.usable());
    const double scale = r.certificate.cost_scale;
    BOOST_TEST(r.certificate.duality_gap <= rtol * scale);
    BOOST_TEST(r.certificate.max_reduced_cost_violation <= rtol * scale);
    BOOST_TEST(r.certificate.max_marginal_violation <= 1e-14);
  }
}

}  // namespace

BOOST_AUTO_TEST_CASE(default_options_are_valid) {
  BOOST_TEST(ExactTransportOptions{}.Validate() == "");
  BOOST_TEST(SinkhornOptions{}.Validate() == "");
  ExactTransportOptions bad;
  bad.certificate_rtol = -1;
  BOOST_TEST(bad.Validate().find("ot_certificate_rtol") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(brute_force_small_sets) {
  for (int n = 1; n <= 8; ++n) {
    for (std::uint64_t seed = 0; seed < 3; ++seed) {
      for (const char* cost : {"sqeuclidean", "euclidean"}) {
        const PointMatrix x = Uniform(n, 2, 100 * seed + static_cast<std::uint64_t>(n));
        const PointMatrix y = Uniform(n, 2, 100 * seed + static_cast<std::uint64_t>(n) + 50);
        const PointMatrix c = TransportCostMatrix(x, y, ParseTransportCost(cost));
        const double exact = BruteForce(c);
        const auto jv = SolveExactTransport(x, y, {}, {}, With("assignment", cost));
        const auto ns = SolveExactTransport(x, y, {}, {}, With("network_simplex", cost));
        BOOST_TEST_CONTEXT("n=" << n << " seed=" << seed << " " << cost) {
          BOOST_TEST(jv.cost == exact, boost::test_tools::tolerance(1e-13));
          BOOST_TEST(ns.cost == exact, boost::test_tools::tolerance(1e-13));
          CheckCertificate(jv, 1e-13);
          CheckCertificate(ns, 1e-12);
          BOOST_TEST(ns.masses.size() <= static_cast<std::size_t>(2 * n - 1));
          BOOST_TEST(jv.cost_name == (std::string(cost) == "euclidean" ? "W1" : "W2^2"));
        }
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(assignment_and_network_simplex_agree) {
  for (const int d : {1, 3, 16}) {
    const PointMatrix x = Uniform(300, d, 7 + static_cast<std::uint64_t>(d));
    const PointMatrix y = Uniform(300, d, 70 + static_cast<std::uint64_t>(d));
    const auto jv = SolveExactTransport(x, y, {}, {}, With("assignment"));
    const auto ns = SolveExactTransport(x, y, {}, {}, With("network_simplex"));
    BOOST_TEST_CONTEXT("d=" << d) {
      BOOST_TEST(jv.cost == ns.cost, boost::test_tools::tolerance(1e-12));
      CheckCertificate(jv, 1e-12);
      CheckCertificate(ns, 1e-12);
      BOOST_TEST(ns.masses.size() <= 599u);
    }
  }
}

BOOST_AUTO_TEST_CASE(one_dimensional_sorted_matching) {
  const int n = 400;
  PointMatrix x = Uniform(n, 1, 3), y = Uniform(n, 1, 4);
  y.array() = y.array().square() * 2.0 - 0.3;  // a different distribution
  std::vector<double> xs(x.data(), x.data() + n), ys(y.data(), y.data() + n);
  std::sort(xs.begin(), xs.end());
  std::sort(ys.begin(), ys.end());
  double w2 = 0, w1 = 0;
  for (int i = 0; i < n; ++i) {
    w2 += (xs[i] - ys[i]) * (xs[i] - ys[i]) / n;
    w1 += std::abs(xs[i] - ys[i]) / n;
  }
  const auto r2 = SolveExactTransport(x, y, {}, {}, With("auto"));
  const auto r1 = SolveExactTransport(x, y, {}, {}, With("auto", "euclidean"));
  BOOST_TEST(r2.solver == "assignment");
  BOOST_TEST(r2.cost == w2, boost::test_tools::tolerance(1e-13));
  BOOST_TEST(r1.cost == w1, boost::test_tools::tolerance(1e-13));
  CheckCertificate(r2, 1e-13);
  CheckCertificate(r1, 1e-13);

  // Weighted, unequal sizes: the north-west corner rule on sorted points (the monotone coupling) is optimal.
  const int m = 57, k = 31;
  PointMatrix xa = Uniform(m, 1, 11), yb = Uniform(k, 1, 12);
  VectorXd a = Uniform(m, 1, 13).col(0).array() + 0.1, b = Uniform(k, 1, 14).col(0).array() + 0.1;
  a /= a.sum();
  b /= b.sum();
  std::vector<int> ix(m), iy(k);
  std::iota(ix.begin(), ix.end(), 0);
  std::iota(iy.begin(), iy.end(), 0);
  std::sort(ix.begin(), ix.end(), [&](int p, int q) { return xa(p, 0) < xa(q, 0); });
  std::sort(iy.begin(), iy.end(), [&](int p, int q) { return yb(p, 0) < yb(q, 0); });
  double expected = 0, ra = a[ix[0]], rb = b[iy[0]];
  for (int i = 0, j = 0; i < m && j < k;) {
    const double t = std::min(ra, rb);
    const double diff = xa(ix[i], 0) - yb(iy[j], 0);
    expected += t * diff * diff;
    ra -= t;
    rb -= t;
    if (ra <= rb) {
      if (++i < m) ra = a[ix[i]];
    } else {
      if (++j < k) rb = b[iy[j]];
    }
  }
  const auto ns = SolveExactTransport(xa, yb, a, b, With("auto"));
  BOOST_TEST(ns.solver == "network_simplex");
  BOOST_TEST(ns.cost == expected, boost::test_tools::tolerance(1e-12));
  BOOST_TEST(ns.masses.size() <= static_cast<std::size_t>(m + k - 1));
  BOOST_TEST(ns.usable(), ns.message);
  BOOST_TEST(ns.certificate.max_marginal_violation <= 1e-14);
}

BOOST_AUTO_TEST_CASE(duality_gap_is_round_off) {
  const PointMatrix x = Uniform(1500, 2, 21), y = Uniform(1500, 2, 22);
  const auto r = SolveExactTransport(x, y, {}, {}, {});
  BOOST_TEST_MESSAGE("n=1500: W2^2 " << r.cost << " gap " << r.certificate.duality_gap << " violation "
                                     << r.certificate.max_reduced_cost_violation << " time " << r.seconds << " s");
  CheckCertificate(r, 1e-13);
}

BOOST_AUTO_TEST_CASE(empirical_w2_converges_to_gaussian_closed_form) {
  VectorXd m0(2), m1(2);
  m0 << 0.0, 0.0;
  m1 << 1.0, -0.5;
  MatrixXd s0(2, 2), s1(2, 2);
  s0 << 1.0, 0.3, 0.3, 0.5;
  s1 << 0.6, -0.2, -0.2, 1.2;
  const double exact = GaussianW2Squared(m0, s0, m1, s1);
  std::vector<double> errors;
  std::vector<int> sizes = {100, 400, 1600};
  const int replicates = 4;
  for (const int n : sizes) {
    double mean = 0;
    for (int rep = 0; rep < replicates; ++rep) {
      const auto r = SolveExactTransport(Gaussian(n, m0, s0, 1000 + static_cast<std::uint64_t>(n + rep)),
                                         Gaussian(n, m1, s1, 5000 + static_cast<std::uint64_t>(n + rep)), {}, {}, {});
      BOOST_TEST(r.usable());
      mean += r.cost / replicates;
    }
    errors.push_back(std::abs(mean - exact) / exact);
    BOOST_TEST_MESSAGE("n=" << n << " mean empirical W2^2 " << mean << " closed form " << exact << " rel error "
                            << errors.back());
  }
  BOOST_TEST_MESSAGE("observed rate (log-log slope of the error) "
                     << std::log(errors.back() / errors.front()) / std::log(double(sizes.back()) / sizes.front()));
  BOOST_TEST(errors.back() < errors.front());
  BOOST_TEST(errors.back() < 0.05);
}

BOOST_AUTO_TEST_CASE(sinkhorn_divergence_tends_to_exact_w2) {
  const PointMatrix x = Uniform(250, 2, 31);
  PointMatrix y = Uniform(250, 2, 32);
  y.col(0).array() += 0.3;
  const double exact = SolveExactTransport(x, y, {}, {}, {}).cost;
  double previous = std::numeric_limits<double>::infinity();
  for (const double eps : {1e-1, 3e-2, 1e-2, 3e-3}) {
    SinkhornOptions o;
    o.epsilon = eps;
    o.max_iterations = 20000;
    const auto r = SolveSinkhorn(x, y, {}, {}, o);
    BOOST_TEST(r.usable(), r.message);
    const double err = std::abs(r.divergence - exact);
    BOOST_TEST_MESSAGE("eps=" << eps << " S_eps " << r.divergence << " exact W2^2 " << exact << " |diff| " << err
                              << " iterations " << r.xy.iterations << " violation " << r.xy.marginal_violation);
    BOOST_TEST(err < previous);
    BOOST_TEST(r.xy.marginal_violation <= o.tol);
    previous = err;
  }
  BOOST_TEST(previous < 0.01 * exact);
}

// OT_eps(a, a) of the debiasing terms by the symmetric averaged iteration: the same value as the alternating
// solver on the same problem, in far fewer iterations, and it converges at default settings where the alternating
// updates oscillate.
BOOST_AUTO_TEST_CASE(sinkhorn_symmetric_terms_match_alternating_solver) {
  PointMatrix x = Uniform(60, 2, 51);
  x.col(1) *= 3.0;
  SinkhornOptions o;
  o.epsilon = 0.05;
  o.max_iterations = 200000;
  o.tol = 1e-11;
  const auto sym = SolveSinkhorn(x, x, {}, {}, o);  // xx, yy: symmetric; xy: alternating, on the same problem
  BOOST_TEST(sym.usable(), sym.message);
  BOOST_TEST_MESSAGE("alternating iterations " << sym.xy.iterations << ", symmetric " << sym.xx.iterations);
  BOOST_TEST(std::abs(sym.xx.entropic_cost - sym.xy.entropic_cost) <= 1e-8 * std::abs(sym.xy.entropic_cost));
  BOOST_TEST(std::abs(sym.xx.transport_cost - sym.xy.transport_cost) <= 1e-7 * sym.xy.transport_cost);
  BOOST_TEST(std::abs(sym.divergence) <= 1e-8 * sym.xy.transport_cost);
  BOOST_TEST(sym.xx.iterations < sym.xy.iterations);
  BOOST_TEST(sym.xx.marginal_violation <= o.tol);
  // Default options on a small problem: every solve converges.
  PointMatrix y = Uniform(30, 2, 52);
  y.col(0).array() += 1.5;
  const auto d = SolveSinkhorn(Uniform(30, 2, 53), y, {}, {}, SinkhornOptions{});
  BOOST_TEST(d.usable(), d.message);
}

// Results do not depend on the thread count, bitwise: with the sweeps split over two threads
// (-sinkhorn_thread_min_entries 0) and with the default threshold (this small problem then runs on one thread).
BOOST_AUTO_TEST_CASE(sinkhorn_is_bitwise_independent_of_threads) {
  const PointMatrix x = Uniform(300, 2, 61), y = Uniform(250, 2, 62);
  SinkhornOptions o;
  o.epsilon = 1e-2;
  o.threads = 1;
  const auto one = SolveSinkhorn(x, y, {}, {}, o);
  BOOST_TEST(one.usable(), one.message);
  for (const double min_entries : {0.0, SinkhornOptions{}.thread_min_entries}) {
    for (const int threads : {2, 3}) {
      o.threads = threads;
      o.thread_min_entries = min_entries;
      const auto r = SolveSinkhorn(x, y, {}, {}, o);
      BOOST_TEST_CONTEXT("threads " << threads << " thread_min_entries " << min_entries) {
        BOOST_TEST(r.xy.iterations == one.xy.iterations);
        BOOST_TEST(r.xx.iterations == one.xx.iterations);
        BOOST_TEST(r.yy.iterations == one.yy.iterations);
        BOOST_TEST((r.xy.f == one.xy.f && r.xy.g == one.xy.g && r.xx.f == one.xx.f && r.yy.f == one.yy.f));
        BOOST_TEST(r.xy.transport_cost == one.xy.transport_cost);  // exact equality (bitwise)
        BOOST_TEST(r.xy.entropic_cost == one.xy.entropic_cost);
        BOOST_TEST(r.xy.marginal_violation == one.xy.marginal_violation);
        BOOST_TEST(r.divergence == one.divergence);
      }
    }
  }
}

// Over-relaxation (the default) converges to the same optimum as plain Sinkhorn (the entropic problem has one
// solution: equal costs, potentials equal up to a constant shift f + c, g - c) in fewer iterations at small eps.
BOOST_AUTO_TEST_CASE(sinkhorn_overrelaxation_reaches_the_plain_solution_faster) {
  const PointMatrix x = Uniform(200, 2, 71), y = Uniform(200, 2, 72);
  for (const double eps : {1e-2, 2e-3}) {
    SinkhornOptions o;
    o.epsilon = eps;
    o.tol = 1e-11;
    o.max_iterations = 100000;
    o.debiased = false;
    o.overrelaxation = false;
    const auto plain = SolveSinkhorn(x, y, {}, {}, o);
    o.overrelaxation = true;
    const auto sor = SolveSinkhorn(x, y, {}, {}, o);
    BOOST_TEST_CONTEXT("eps " << eps) {
      BOOST_TEST(plain.usable(), plain.message);
      BOOST_TEST(sor.usable(), sor.message);
      BOOST_TEST_MESSAGE("eps=" << eps << " iterations plain " << plain.xy.iterations << " over-relaxed "
                                << sor.xy.iterations);
      BOOST_TEST(sor.xy.iterations < plain.xy.iterations);
      BOOST_TEST(sor.xy.marginal_violation <= o.tol);
      BOOST_TEST(std::abs(sor.xy.entropic_cost - plain.xy.entropic_cost) <= 1e-9 * std::abs(plain.xy.entropic_cost));
      BOOST_TEST(std::abs(sor.xy.transport_cost - plain.xy.transport_cost) <= 1e-8 * plain.xy.transport_cost);
      const double shift = (sor.xy.f - plain.xy.f).mean();
      BOOST_TEST((sor.xy.f.array() - plain.xy.f.array() - shift).abs().maxCoeff() <= 1e-7 * eps);
      BOOST_TEST((sor.xy.g.array() - plain.xy.g.array() + shift).abs().maxCoeff() <= 1e-7 * eps);
    }
  }
}

BOOST_AUTO_TEST_CASE(sinkhorn_iteration_limit_is_a_status) {
  const PointMatrix x = Uniform(100, 2, 41), y = Uniform(100, 2, 42);
  SinkhornOptions o;
  o.epsilon = 1e-3;
  o.max_iterations = 3;
  const auto r = SolveSinkhorn(x, y, {}, {}, o);
  BOOST_TEST(!r.usable());
  BOOST_TEST(static_cast<int>(r.status) == static_cast<int>(TransportStatus::kIterationLimit));
  BOOST_TEST(r.message.find("sinkhorn_max_iterations") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_input_throws) {
  const PointMatrix x = Uniform(5, 2, 1), y3 = Uniform(5, 3, 2), y = Uniform(6, 2, 3);
  BOOST_CHECK_THROW(SolveExactTransport(x, y3, {}, {}, {}), InputError);
  BOOST_CHECK_THROW(SolveExactTransport(x, y, {}, {}, With("assignment")), InputError);
  VectorXd a = VectorXd::Constant(5, 0.3);
  BOOST_CHECK_THROW(SolveExactTransport(x, y, a, {}, {}), InputError);
  // Unequal sizes with uniform weights: network simplex, exact masses.
  const auto r = SolveExactTransport(x, y, {}, {}, {});
  BOOST_TEST(r.solver == "network_simplex");
  CheckCertificate(r, 1e-12);
}
