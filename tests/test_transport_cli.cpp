// `pushpull transport`: exact OT, Sinkhorn, two-sample statistics and flow diagnostics through the command line,
// checked against independent computations (brute force over permutations, the 1-D quantile coupling, direct
// U-statistics), plus the errors and exit codes.
#define BOOST_TEST_MODULE transport_cli
#include <boost/test/unit_test.hpp>

#include <hdf5.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numeric>
#include <random>

#include "cli/commands.hpp"
#include "pushpull/io.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/provenance.hpp"
#include "test_support.hpp"

using namespace pushpull;

namespace {
using Run = pushpull::testing::CliRun;
Run Cli(std::vector<std::string> args) { return pushpull::testing::RunCli(std::move(args)); }

void WriteData(const std::string& file, const std::vector<std::pair<std::string, RowMatrixXd>>& sets) {
  Provenance p = Provenance::Collect({"test"}, nullptr);
  OutputFile out(file, p);
  for (const auto& [name, m] : sets) out.WriteMatrix(name, m);
  out.Commit();
}

std::vector<double> Read(const std::string& file, const std::string& path) {
  ArraySpec spec;
  spec.ranks = {1, 2, 3};
  spec.require_finite = false;
  return ReadArray(DatasetName{file, path}, spec).data;
}

RowMatrixXd Gaussian(int n, int d, double shift, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> normal(0.0, 1.0);
  RowMatrixXd x(n, d);
  for (int i = 0; i < n; ++i) {
    for (int j = 0; j < d; ++j) x(i, j) = normal(rng) + (j == 0 ? shift : 0.0);
  }
  return x;
}

// min over permutations of sum_i c(x_i, y_sigma(i)) / n.
double BruteForce(const RowMatrixXd& x, const RowMatrixXd& y, bool squared) {
  std::vector<int> p(static_cast<std::size_t>(x.rows()));
  std::iota(p.begin(), p.end(), 0);
  double best = INFINITY;
  do {
    double s = 0;
    for (Eigen::Index i = 0; i < x.rows(); ++i) {
      const double d2 = (x.row(i) - y.row(p[static_cast<std::size_t>(i)])).squaredNorm();
      s += squared ? d2 : std::sqrt(d2);
    }
    best = std::min(best, s);
  } while (std::next_permutation(p.begin(), p.end()));
  return best / static_cast<double>(x.rows());
}

std::string Err(const Run& r) { return r.err + r.out; }
}  // namespace

BOOST_AUTO_TEST_CASE(exact_transport_matches_brute_force_and_writes_plan_potentials_certificate) {
  const RowMatrixXd x = Gaussian(7, 3, 0.0, 1), y = Gaussian(7, 3, 1.0, 2);
  WriteData("tcli_points.h5", {{"x", x}, {"y", y}});
  for (const bool squared : {true, false}) {
    const std::string out = squared ? "tcli_w2.h5" : "tcli_w1.h5";
    std::filesystem::remove(out);
    const Run r = Cli({"transport", "-source", "tcli_points.h5:/x", "-target", "tcli_points.h5:/y", "-cost",
                       squared ? "sqeuclidean" : "euclidean", "-output", out});
    BOOST_TEST(r.code == 0, Err(r));
    BOOST_REQUIRE(std::filesystem::exists(out));
    BOOST_TEST(!std::filesystem::exists(out + ".partial"));
    const double cost = Read(out, squared ? "/w2_squared" : "/w1")[0];
    BOOST_TEST(std::abs(cost - BruteForce(x, y, squared)) <= 1e-12 * (1 + cost));
    const auto rows = Read(out, "/plan/rows"), cols = Read(out, "/plan/cols"), mass = Read(out, "/plan/mass");
    const auto u = Read(out, "/potentials/u"), v = Read(out, "/potentials/v");
    BOOST_TEST(rows.size() == 7u);
    double plan_cost = 0;
    for (std::size_t k = 0; k < rows.size(); ++k) {
      const auto i = static_cast<Eigen::Index>(rows[k]), j = static_cast<Eigen::Index>(cols[k]);
      const double c = squared ? (x.row(i) - y.row(j)).squaredNorm() : (x.row(i) - y.row(j)).norm();
      plan_cost += mass[k] * c;
      BOOST_TEST(std::abs(u[rows[k]] + v[cols[k]] - c) <= 1e-9 * (1 + c));  // complementary slackness
    }
    BOOST_TEST(std::abs(plan_cost - cost) <= 1e-12 * (1 + cost));
    // Dual feasibility and the dual value recomputed here.
    double dual = 0, worst = 0;
    for (int i = 0; i < 7; ++i) {
      dual += (u[i] + v[i]) / 7;
      for (int j = 0; j < 7; ++j) {
        const double c = squared ? (x.row(i) - y.row(j)).squaredNorm() : (x.row(i) - y.row(j)).norm();
        worst = std::max(worst, u[i] + v[j] - c);
      }
    }
    BOOST_TEST(std::abs(dual - cost) <= 1e-9 * (1 + cost));
    BOOST_TEST(worst <= 1e-9);
    BOOST_TEST(Read(out, "/certificate/duality_gap")[0] <= 1e-9);
    BOOST_TEST(Read(out, "/certificate/max_reduced_cost_violation")[0] <= 1e-9);
    BOOST_TEST(Read(out, "/status")[0] == 0);
    BOOST_TEST(ReadRootStringAttribute(out, "command") == "transport");
    BOOST_TEST(ReadRootStringAttribute(out, "mode") == "ot");
    BOOST_TEST(ReadRootStringAttribute(out, "cost_name") == (squared ? "W2^2" : "W1"));
    BOOST_TEST(ReadRootStringAttribute(out, "options").find("-cost") != std::string::npos);  // provenance
  }
}

// Weighted 1-D sets: the network simplex against the north-west corner rule on sorted points (the monotone
// coupling, optimal for a convex cost on the line).
BOOST_AUTO_TEST_CASE(weighted_network_simplex_matches_monotone_coupling_in_1d) {
  const int n = 9, m = 6;
  RowMatrixXd x = Gaussian(n, 1, 0.0, 5), y = Gaussian(m, 1, 0.7, 6);
  std::mt19937_64 rng(8);
  std::uniform_real_distribution<double> unif(0.2, 1.0);
  RowMatrixXd a(n, 1), b(m, 1);
  for (int i = 0; i < n; ++i) a(i, 0) = unif(rng);
  for (int j = 0; j < m; ++j) b(j, 0) = unif(rng);
  a /= a.sum();
  b /= b.sum();
  WriteData("tcli_weighted.h5", {{"x", x}, {"y", y}, {"a", a}, {"b", b}});
  std::filesystem::remove("tcli_weighted_out.h5");
  const Run r = Cli({"transport", "-source", "tcli_weighted.h5:/x", "-target", "tcli_weighted.h5:/y",
                     "-source_weights", "tcli_weighted.h5:/a", "-target_weights", "tcli_weighted.h5:/b", "-output",
                     "tcli_weighted_out.h5"});
  BOOST_TEST(r.code == 0, Err(r));
  // Monotone coupling.
  std::vector<int> ix(n), iy(m);
  std::iota(ix.begin(), ix.end(), 0);
  std::iota(iy.begin(), iy.end(), 0);
  std::sort(ix.begin(), ix.end(), [&](int p, int q) { return x(p, 0) < x(q, 0); });
  std::sort(iy.begin(), iy.end(), [&](int p, int q) { return y(p, 0) < y(q, 0); });
  double expected = 0;
  std::vector<double> ra(n), rb(m);
  for (int i = 0; i < n; ++i) ra[i] = a(ix[i], 0);
  for (int j = 0; j < m; ++j) rb[j] = b(iy[j], 0);
  for (int i = 0, j = 0; i < n && j < m;) {
    const double f = std::min(ra[i], rb[j]);
    expected += f * std::pow(x(ix[i], 0) - y(iy[j], 0), 2);
    ra[i] -= f;
    rb[j] -= f;
    if (ra[i] <= 1e-15) ++i;
    else ++j;
  }
  const double cost = Read("tcli_weighted_out.h5", "/w2_squared")[0];
  BOOST_TEST(std::abs(cost - expected) <= 1e-9 * (1 + expected));
  const auto rows = Read("tcli_weighted_out.h5", "/plan/rows"), mass = Read("tcli_weighted_out.h5", "/plan/mass");
  BOOST_TEST(rows.size() <= static_cast<std::size_t>(n + m - 1));
  std::vector<double> row_mass(n, 0.0);
  for (std::size_t k = 0; k < rows.size(); ++k) row_mass[static_cast<std::size_t>(rows[k])] += mass[k];
  for (int i = 0; i < n; ++i) BOOST_TEST(std::abs(row_mass[i] - a(i, 0)) <= 1e-12);
  BOOST_TEST(ReadRootStringAttribute("tcli_weighted_out.h5", "solver") == "network_simplex");
}

BOOST_AUTO_TEST_CASE(sinkhorn_divergence_approaches_exact_w2) {
  const RowMatrixXd x = Gaussian(30, 2, 0.0, 11), y = Gaussian(30, 2, 1.5, 12);
  WriteData("tcli_sk.h5", {{"x", x}, {"y", y}});
  std::filesystem::remove("tcli_sk_exact.h5");
  std::filesystem::remove("tcli_sk_out.h5");
  BOOST_TEST(Cli({"transport", "-source", "tcli_sk.h5:/x", "-target", "tcli_sk.h5:/y", "-output",
                  "tcli_sk_exact.h5"}).code == 0);
  const Run r = Cli({"transport", "-source", "tcli_sk.h5:/x", "-target", "tcli_sk.h5:/y", "-ot_type", "sinkhorn",
                     "-sinkhorn_epsilon", "0.02", "-sinkhorn_tol", "1e-5", "-output", "tcli_sk_out.h5"});
  BOOST_TEST(r.code == 0, Err(r));
  const double exact = Read("tcli_sk_exact.h5", "/w2_squared")[0];
  const double div = Read("tcli_sk_out.h5", "/sinkhorn_divergence")[0];
  BOOST_TEST(std::abs(div - exact) <= 0.005 * exact, div << " vs " << exact);
  BOOST_TEST(Read("tcli_sk_out.h5", "/marginal_violation")[0] <= 1e-5);
  BOOST_TEST(Read("tcli_sk_out.h5", "/status")[0] == 0);
  // A solve stopped by its iteration cap says so: status iteration_limit (2), exit code 1, the file written.
  std::filesystem::remove("tcli_sk_cap.h5");
  const Run capped = Cli({"transport", "-source", "tcli_sk.h5:/x", "-target", "tcli_sk.h5:/y", "-ot_type", "sinkhorn",
                          "-sinkhorn_max_iterations", "3", "-output", "tcli_sk_cap.h5"});
  BOOST_TEST(capped.code == 1, Err(capped));
  BOOST_TEST(capped.err.find("iteration_limit") != std::string::npos);
  BOOST_TEST(Read("tcli_sk_cap.h5", "/status")[0] == 2);
  BOOST_TEST(Read("tcli_sk_out.h5", "/potentials/f").size() == 30u);
  BOOST_TEST(ReadRootStringAttribute("tcli_sk_out.h5", "ot_type") == "sinkhorn");
}

// The unbiased MMD^2 U-statistic and the energy distance recomputed directly at the bandwidths the command reports.
BOOST_AUTO_TEST_CASE(two_sample_statistics_match_direct_u_statistics) {
  const RowMatrixXd x = Gaussian(40, 2, 0.0, 21), y = Gaussian(50, 2, 0.5, 22);
  WriteData("tcli_ts.h5", {{"x", x}, {"y", y}});
  std::filesystem::remove("tcli_ts_out.h5");
  const Run r = Cli({"transport", "-mode", "two_sample", "-source", "tcli_ts.h5:/x", "-target", "tcli_ts.h5:/y",
                     "-mmd_permutations", "49", "-output", "tcli_ts_out.h5"});
  BOOST_TEST(r.code == 0, Err(r));
  const auto h = Read("tcli_ts_out.h5", "/mmd2/bandwidth"), value = Read("tcli_ts_out.h5", "/mmd2/value");
  const auto p = Read("tcli_ts_out.h5", "/mmd2/p_value"), se = Read("tcli_ts_out.h5", "/mmd2/standard_error");
  BOOST_TEST(h.size() == 5u);
  auto ustat = [&](auto k) {
    double sxx = 0, syy = 0, sxy = 0;
    for (int i = 0; i < 40; ++i)
      for (int j = 0; j < 40; ++j)
        if (i != j) sxx += k((x.row(i) - x.row(j)).squaredNorm());
    for (int i = 0; i < 50; ++i)
      for (int j = 0; j < 50; ++j)
        if (i != j) syy += k((y.row(i) - y.row(j)).squaredNorm());
    for (int i = 0; i < 40; ++i)
      for (int j = 0; j < 50; ++j) sxy += k((x.row(i) - y.row(j)).squaredNorm());
    return sxx / (40.0 * 39) + syy / (50.0 * 49) - 2 * sxy / (40.0 * 50);
  };
  for (std::size_t l = 0; l < h.size(); ++l) {
    const double expected = ustat([&](double d2) { return std::exp(-d2 / (2 * h[l] * h[l])); });
    BOOST_TEST(std::abs(value[l] - expected) <= 1e-12, l << ": " << value[l] << " vs " << expected);
    BOOST_TEST(p[l] > 0);
    BOOST_TEST(p[l] <= 1);
    BOOST_TEST(se[l] > 0);
    if (l > 0) BOOST_TEST(h[l] > h[l - 1]);
  }
  const double energy = -ustat([](double d2) { return -std::sqrt(d2); });
  // E = 2 E|X - Y| - E|X - X'| - E|Y - Y'|: the U-statistic above with k = -|x - y| is -E.
  BOOST_TEST(std::abs(Read("tcli_ts_out.h5", "/energy/value")[0] - (-energy)) <= 1e-12);
  BOOST_TEST(ReadRootStringAttribute("tcli_ts_out.h5", "mode") == "two_sample");
}

BOOST_AUTO_TEST_CASE(flow_mode_writes_diagnostics_that_obey_benamou_brenier) {
  const std::string model = "tcli_model.h5";
  std::filesystem::remove(model);
  Mlp mlp = RandomMlp(2, 2, {16}, TimeInput::kConcat, Activation::kTanh, 7u, 0.8);
  mlp.base_time = 0;
  WriteMlp(model, "/velocity", mlp);
  WriteData("tcli_data.h5", {{"x", Gaussian(60, 2, 0.3, 31)}});
  std::filesystem::remove("tcli_flow.h5");
  const Run r = Cli({"transport", "-model", model, "-samples", "60", "-target", "tcli_data.h5:/x", "-seed", "3",
                     "-mmd_permutations", "0", "-output", "tcli_flow.h5"});
  BOOST_TEST(r.code == 0, Err(r));
  BOOST_REQUIRE(std::filesystem::exists("tcli_flow.h5"));
  const auto K = Read("tcli_flow.h5", "/kinetic"), D = Read("tcli_flow.h5", "/displacement");
  const auto z = Read("tcli_flow.h5", "/base_samples"), x = Read("tcli_flow.h5", "/samples");
  BOOST_TEST(K.size() == 60u);
  for (std::size_t i = 0; i < 60; ++i) {
    const double d = std::pow(x[2 * i] - z[2 * i], 2) + std::pow(x[2 * i + 1] - z[2 * i + 1], 2);
    BOOST_TEST(std::abs(D[i] - d) <= 1e-12 * (1 + d));
    BOOST_TEST(K[i] >= D[i] * (1 - 1e-6));
  }
  const auto action = Read("tcli_flow.h5", "/diagnostics/action"), disp = Read("tcli_flow.h5", "/diagnostics/displacement");
  const auto w2 = Read("tcli_flow.h5", "/diagnostics/w2_squared"), st = Read("tcli_flow.h5", "/diagnostics/straightness");
  BOOST_TEST(action.size() == 2u);
  BOOST_TEST(action[0] >= disp[0]);
  BOOST_TEST(w2[0] <= disp[0] * (1 + 1e-12));
  BOOST_TEST(std::abs(st[0] - disp[0] / action[0]) <= 1e-14);
  BOOST_TEST(Read("tcli_flow.h5", "/transport/w2_squared")[0] == w2[0]);
  BOOST_TEST(Read("tcli_flow.h5", "/diagnostics/curl")[0] > 0);  // a random MLP field is not a gradient
  BOOST_TEST(Read("tcli_flow.h5", "/two_sample/mmd2/value").size() == 5u);
  BOOST_TEST(ReadRootStringAttribute("tcli_flow.h5", "mode") == "flow");
  // The base draws are those of `pushpull sample` with the same seed.
  std::filesystem::remove("tcli_sample.h5");
  BOOST_TEST(Cli({"sample", "-model", model, "-n", "60", "-seed", "3", "-kinetic", "-curl", "-output",
                  "tcli_sample.h5"}).code == 0);
  const auto z2 = Read("tcli_sample.h5", "/base_samples"), c2 = Read("tcli_sample.h5", "/curl");
  const auto c1 = Read("tcli_flow.h5", "/curl");
  BOOST_TEST(z2 == z);
  for (std::size_t i = 0; i < 60; ++i) BOOST_TEST(std::abs(c1[i] - c2[i]) <= 1e-12 * (1 + c1[i]));
}

BOOST_AUTO_TEST_CASE(bad_input_names_file_option_and_value) {
  WriteData("tcli_bad.h5", {{"x", Gaussian(5, 2, 0, 1)}, {"y", Gaussian(5, 3, 0, 2)}, {"z", Gaussian(5, 2, 0, 3)},
                            {"w4", RowMatrixXd::Constant(4, 1, 0.25)}, {"wneg", RowMatrixXd::Constant(5, 1, -0.2)}});
  auto check = [](std::vector<std::string> args, std::vector<std::string> fragments) {
    args.insert(args.begin(), "transport");
    args.push_back("-output");
    args.push_back("tcli_bad_out.h5");
    const Run r = Cli(args);
    BOOST_TEST(r.code == 2, Err(r));
    for (const auto& f : fragments) BOOST_TEST(r.err.find(f) != std::string::npos, "'" << f << "' in: " << r.err);
    BOOST_TEST(!std::filesystem::exists("tcli_bad_out.h5"));
    BOOST_TEST(!std::filesystem::exists("tcli_bad_out.h5.partial"));
  };
  check({"-target", "tcli_bad.h5:/z"}, {"-source"});
  check({"-source", "tcli_bad.h5:/x", "-target", "tcli_bad.h5:/y"}, {"tcli_bad.h5:/y", "dimension 3"});
  check({"-source", "tcli_bad.h5:/x", "-target", "tcli_bad.h5:/z", "-source_weights", "tcli_bad.h5:/w4"},
        {"-source_weights", "tcli_bad.h5", "/w4", "4 values for 5 points"});
  check({"-source", "tcli_bad.h5:/x", "-target", "tcli_bad.h5:/z", "-target_weights", "tcli_bad.h5:/wneg"},
        {"-target_weights", "-0.2"});
  check({"-source", "tcli_bad.h5:/x", "-target", "tcli_bad.h5:/nothing"}, {"tcli_bad.h5", "nothing"});
  check({"-source", "tcli_bad.h5:/x", "-target", "tcli_bad.h5:/z", "-cost", "manhattan"}, {"-cost", "manhattan"});
  check({"-source", "tcli_bad.h5:/x", "-target", "tcli_bad.h5:/z", "-ot_cost", "euclidean"}, {"-ot_cost", "-cost"});
  check({"-mode", "flow", "-samples", "10"}, {"-model"});
  // Weights that do not sum to 1: the solver's message with the files named.
  WriteData("tcli_bad2.h5", {{"w", RowMatrixXd::Constant(5, 1, 0.3)}});
  check({"-source", "tcli_bad.h5:/x", "-target", "tcli_bad.h5:/z", "-source_weights", "tcli_bad2.h5:/w"},
        {"sum to 1.5", "tcli_bad2.h5:/w"});
  const Run help = Cli({"transport", "-help"});
  BOOST_TEST(help.code == 0);
  BOOST_TEST(help.out.find("-ot_type") != std::string::npos);
  BOOST_TEST(help.out.find("-mmd_permutations") != std::string::npos);
}
