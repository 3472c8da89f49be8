#define BOOST_TEST_MODULE geodesic_cli
#include <boost/test/unit_test.hpp>

#include <hdf5.h>

#include <cmath>
#include <numbers>
#include <filesystem>
#include <sstream>

#include "cli/commands.hpp"
#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/io.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/provenance.hpp"
#include "test_support.hpp"

using namespace pushpull;
using Eigen::VectorXd;

namespace {
using Run = pushpull::testing::CliRun;
Run Cli(std::vector<std::string> args) { return pushpull::testing::RunCli(std::move(args)); }

void WriteData(const std::string& file, const std::string& name, const std::vector<std::size_t>& shape,
               const std::vector<double>& data) {
  Provenance p = Provenance::Collect({"test"}, nullptr);
  OutputFile out(file, p);
  out.WriteArray(name, shape, data.data());
  out.Commit();
}

// Pairs P x 2 x d from a list of (z0, z1).
void WritePairs(const std::string& file, const std::vector<std::pair<VectorXd, VectorXd>>& pairs) {
  const std::size_t d = static_cast<std::size_t>(pairs.front().first.size());
  std::vector<double> data;
  for (const auto& [a, b] : pairs) {
    data.insert(data.end(), a.data(), a.data() + d);
    data.insert(data.end(), b.data(), b.data() + d);
  }
  WriteData(file, "pairs", {pairs.size(), 2, d}, data);
}

Array Read(const std::string& file, const std::string& path, std::vector<int> ranks) {
  ArraySpec spec;
  spec.ranks = std::move(ranks);
  spec.require_finite = false;
  return ReadArray(DatasetName{file, path}, spec);
}

bool Exists(const std::string& file, const std::string& path) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const bool e = H5Lexists(f, path.c_str(), H5P_DEFAULT) > 0;
  H5Fclose(f);
  return e;
}

std::int64_t ReadIntAttribute(const std::string& file, const std::string& object, const std::string& name) {
  hid_t f = H5Fopen(file.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  hid_t a = H5Aopen_by_name(f, object.c_str(), name.c_str(), H5P_DEFAULT, H5P_DEFAULT);
  std::int64_t v = -99;
  H5Aread(a, H5T_NATIVE_INT64, &v);
  H5Aclose(a);
  H5Fclose(f);
  return v;
}

VectorXd V(std::initializer_list<double> x) {
  VectorXd v(static_cast<Eigen::Index>(x.size()));
  Eigen::Index i = 0;
  for (double e : x) v[i++] = e;
  return v;
}

std::string WriteDecoderModel() {
  const std::string model = "geocli_decoder.h5";
  std::filesystem::remove(model);
  Mlp dec = RandomMlp(2, 4, {8}, TimeInput::kNone, Activation::kTanh, 41u, 0.7);
  WriteMlp(model, "/decoder/mean", dec);
  return model;
}

std::vector<VectorXd> SixPoints() {
  return {V({0.1, 0.2}), V({-0.3, 0.4}), V({0.5, -0.2}), V({-0.4, -0.5}), V({0.0, 0.6}), V({0.3, 0.3})};
}
}  // namespace

BOOST_AUTO_TEST_CASE(sphere_geodesics_match_closed_form_and_write_every_dataset) {
  std::vector<std::pair<VectorXd, VectorXd>> pairs = {{V({0.1, 0.2}), V({0.8, -0.3})},
                                                      {V({-0.5, 0.4}), V({0.3, 0.9})},
                                                      {V({0.0, 0.0}), V({1.2, 0.5})},
                                                      {V({0.7, 0.7}), V({-0.2, -0.6})}};
  WritePairs("geocli_sphere_pairs.h5", pairs);
  std::filesystem::remove("geocli_sphere.h5");
  const Run r = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_sphere_pairs.h5:/pairs", "-output",
                     "geocli_sphere.h5", "-curve_samples", "5", "-bvp_ode_rtol", "1e-10",
                     "-bvp_ode_atol", "1e-12", "-threads", "2"});
  BOOST_TEST(r.code == 0, r.err);
  const std::string f = "geocli_sphere.h5";
  BOOST_REQUIRE(std::filesystem::exists(f));
  const Array length = Read(f, "/length", {1}), energy = Read(f, "/energy", {1}), u = Read(f, "/initial_velocity", {2});
  const Array err = Read(f, "/endpoint_error", {1}), it = Read(f, "/iterations", {1}), st = Read(f, "/status", {1});
  const Array curve = Read(f, "/curve", {3}), decoded = Read(f, "/decoded_curve", {3});
  BOOST_TEST(Exists(f, "/status_message"));
  BOOST_TEST((u.shape == std::vector<std::size_t>{4, 2}));
  BOOST_TEST((curve.shape == std::vector<std::size_t>{4, 5, 2}));
  BOOST_TEST((decoded.shape == std::vector<std::size_t>{4, 5, 3}));
  for (std::size_t p = 0; p < pairs.size(); ++p) {
    const double exact = SphereDistance(pairs[p].first, pairs[p].second);
    BOOST_TEST(std::abs(length.data[p] - exact) < 1e-6, "pair " << p << ": " << length.data[p] << " vs " << exact);
    BOOST_TEST(std::abs(energy.data[p] - length.data[p] * length.data[p]) < 1e-12);
    BOOST_TEST(st.data[p] == 0);
    BOOST_TEST(err.data[p] <= 1e-6);
    BOOST_TEST(it.data[p] >= 1);
    for (int k = 0; k < 2; ++k) {
      BOOST_TEST(curve.data[p * 10 + k] == pairs[p].first[k]);
      BOOST_TEST(std::abs(curve.data[p * 10 + 8 + k] - pairs[p].second[k]) < 1e-6);
    }
    for (std::size_t s = 0; s < 5; ++s) {
      const double* x = decoded.data.data() + (p * 5 + s) * 3;
      BOOST_TEST(std::abs(x[0] * x[0] + x[1] * x[1] + x[2] * x[2] - 1.0) < 1e-12);  // on the unit sphere
    }
  }
  BOOST_TEST(ReadRootStringAttribute(f, "command") == "geodesic");
  // The summary attributes (status_output.hpp), the same in every command.
  BOOST_TEST(ReadIntAttribute(f, "/", "items") == 4);
  BOOST_TEST(ReadIntAttribute(f, "/", "failed") == 0);
  BOOST_TEST(ReadIntAttribute(f, "/", "count_success") == 4);
  double iterations = 0;
  for (const double v : it.data) iterations += v;
  BOOST_TEST(ReadIntAttribute(f, "/", "total_iterations") == static_cast<std::int64_t>(iterations));
  BOOST_TEST(ReadIntAttribute(f, "/", "total_steps") > 0);
  BOOST_TEST(ReadIntAttribute(f, "/", "total_rhs_evals") >= ReadIntAttribute(f, "/", "total_steps"));
  BOOST_TEST(ReadRootStringAttribute(f, "summary").find("geodesic summary") == 0u);
  BOOST_TEST(r.out.find("geodesic: 4 pairs, 0 failed") == 0u, r.out);
}

BOOST_AUTO_TEST_CASE(fisher_rao_point_outside_the_domain_is_refused) {
  WritePairs("geocli_fr_pairs.h5", {{V({0.0, 1.0}), V({1.0, 2.0})}, {V({0.5, 1.0}), V({0.5, -0.25})}});
  std::filesystem::remove("geocli_fr.h5");
  const Run r = Cli({"geodesic", "-metric_type", "fisher_rao", "-pairs", "geocli_fr_pairs.h5:/pairs", "-output",
                     "geocli_fr.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("pair 1") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("(0.5, -0.25)") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("sigma") != std::string::npos, r.err);
  BOOST_TEST(!std::filesystem::exists("geocli_fr.h5"));
  BOOST_TEST(!std::filesystem::exists("geocli_fr.h5.partial"));
}

BOOST_AUTO_TEST_CASE(bad_inputs_give_exit_code_2) {
  WriteData("geocli_badshape.h5", "pairs", {2, 3, 2}, std::vector<double>(12, 0.5));
  Run r = Cli({"geodesic", "-metric_type", "poincare", "-pairs", "geocli_badshape.h5:/pairs", "-output",
               "geocli_bad.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("expected (any x 2 x any)") != std::string::npos, r.err);
  r = Cli({"geodesic", "-metric_type", "poincare", "-pairs", "geocli_missing.h5:/pairs", "-output", "geocli_bad.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("geocli_missing.h5") != std::string::npos, r.err);
  r = Cli({"geodesic", "-metric_type", "spheer", "-pairs", "geocli_badshape.h5:/pairs", "-output", "geocli_bad.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("fisher_rao") != std::string::npos, r.err);
  BOOST_TEST(r.err.find("valid values: linear, sphere") != std::string::npos, r.err);
  r = Cli({"geodesic", "-pairs", "geocli_badshape.h5:/pairs", "-output", "geocli_bad.h5"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("-metric_type") != std::string::npos, r.err);
  r = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_sphere_pairs.h5:/pairs", "-output",
           "geocli_bad.h5", "-curve_sample", "4"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("did you mean -curve_samples?") != std::string::npos, r.err);
  r = Cli({"distances", "-metric_type", "sphere", "-points", "geocli_pts.h5:/points", "-output", "geocli_bad.h5",
           "-bvp_tl", "1e-8"});
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("did you mean -bvp_tol?") != std::string::npos, r.err);
  BOOST_TEST(!std::filesystem::exists("geocli_bad.h5"));
}

BOOST_AUTO_TEST_CASE(failed_pairs_are_statuses_with_exit_code_1) {
  WritePairs("geocli_hard_pairs.h5", {{V({-1.0, 0.5}), V({1.0, 1.5})}, {V({0.0, 1.0}), V({0.0, 1.0})}});
  const Run r = Cli({"geodesic", "-metric_type", "poincare", "-pairs", "geocli_hard_pairs.h5:/pairs", "-output",
                     "geocli_hard.h5", "-bvp_max_iterations", "1"});
  BOOST_TEST(r.code == 1, r.err);
  const Array st = Read("geocli_hard.h5", "/status", {1});
  BOOST_TEST(st.data[0] == 5);  // approximate: nothing verified, the best curve's length
  BOOST_TEST(st.data[1] == 0);  // identical end points: zero velocity
  BOOST_TEST(ReadIntAttribute("geocli_hard.h5", "/", "failed") == 1);
  BOOST_TEST(ReadIntAttribute("geocli_hard.h5", "/", "count_approximate") == 1);
  const auto messages = ReadStrings(DatasetName::Parse("geocli_hard.h5:/status_message"));
  BOOST_TEST_REQUIRE(messages.size() == 2u);
  BOOST_TEST(messages[0].find("bvp_tol") != std::string::npos, messages[0]);
  BOOST_TEST(r.err.find("pair 0: " + messages[0]) != std::string::npos, r.err);
  // An approximate pair keeps its length (the metric length of the initial curve here: Poincare has no decoder),
  // at least the distance arccosh(1 + |z1 - z0|^2 / (2 y0 y1)).
  const Array length = Read("geocli_hard.h5", "/length", {1});
  const double d = std::acosh(1 + (4.0 + 1.0) / (2 * 0.5 * 1.5));
  BOOST_TEST(std::isfinite(length.data[0]));
  BOOST_TEST(length.data[0] >= d * (1 - 1e-9), length.data[0] << " vs " << d);
  BOOST_TEST(r.err.find("bvp_tol") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(metric_min_rcond_decides_what_counts_as_singular) {
  // f(z) = diag(1, 1e-5) z: M = diag(1, 1e-10), reciprocal condition number 1e-10.
  WriteData("geocli_rcond_z.h5", "z", {1, 2}, {0.1, 0.2});
  WriteData("geocli_rcond_u.h5", "u", {1, 2}, {1.0, 0.5});
  const std::vector<std::string> args = {"exp", "-metric_type", "linear", "-linear_weights", "1,0,0,1e-5",
                                         "-points", "geocli_rcond_z.h5:/z", "-velocities", "geocli_rcond_u.h5:/u",
                                         "-output", "geocli_rcond.h5"};
  Run r = Cli(args);
  BOOST_TEST(r.code == 0, r.err);
  BOOST_TEST(Read("geocli_rcond.h5", "/status", {1}).data[0] == 0);
  std::vector<std::string> strict = args;
  strict.insert(strict.end(), {"-metric_min_rcond", "1e-8"});
  r = Cli(strict);
  BOOST_TEST(r.code == 1, r.err);
  BOOST_TEST(Read("geocli_rcond.h5", "/status", {1}).data[0] == static_cast<int>(GeodesicStatus::kSingularMetric));
  BOOST_TEST(r.err.find("-metric_min_rcond 1e-08") != std::string::npos, r.err);
  std::vector<std::string> bad = args;
  bad.insert(bad.end(), {"-metric_min_rcond", "1"});
  r = Cli(bad);
  BOOST_TEST(r.code == 2);
  BOOST_TEST(r.err.find("metric_min_rcond") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(mlp_decoder_geodesics_with_curves) {
  const std::string model = WriteDecoderModel();
  WritePairs("geocli_mlp_pairs.h5", {{V({0.1, 0.2}), V({-0.3, 0.4})}, {V({0.5, -0.2}), V({-0.4, -0.5})},
                                     {V({0.0, 0.6}), V({0.3, 0.3})}});
  const Run r = Cli({"geodesic", "-model", model, "-pairs", "geocli_mlp_pairs.h5:/pairs", "-output", "geocli_mlp.h5",
                     "-curve_samples", "7"});
  BOOST_TEST(r.code == 0, r.err);
  const std::string f = "geocli_mlp.h5";
  const Array length = Read(f, "/length", {1}), st = Read(f, "/status", {1});
  const Array curve = Read(f, "/curve", {3}), decoded = Read(f, "/decoded_curve", {3});
  BOOST_TEST((curve.shape == std::vector<std::size_t>{3, 7, 2}));
  BOOST_TEST((decoded.shape == std::vector<std::size_t>{3, 7, 4}));
  const MlpDecoder dec(ReadMlp(model, "/decoder/mean"));
  for (std::size_t p = 0; p < 3; ++p) {
    BOOST_TEST(std::isfinite(length.data[p]));
    BOOST_TEST(length.data[p] > 0);
    BOOST_TEST(st.data[p] == 0);
    // Each decoded sample is the decoder's image of the latent sample.
    for (std::size_t s = 0; s < 7; ++s) {
      const VectorXd x = dec.Value(Eigen::Map<const VectorXd>(curve.data.data() + (p * 7 + s) * 2, 2));
      for (int k = 0; k < 4; ++k) BOOST_TEST(decoded.data[(p * 7 + s) * 4 + static_cast<std::size_t>(k)] == x[k]);
    }
  }
  // The stochastic metric needs /decoder/std: refused with exit code 2.
  const Run s = Cli({"geodesic", "-model", model, "-metric", "stochastic", "-pairs", "geocli_mlp_pairs.h5:/pairs",
                     "-output", "geocli_mlp_sto.h5"});
  BOOST_TEST(s.code == 2);
  BOOST_TEST(s.err.find("/decoder/std") != std::string::npos, s.err);
}

BOOST_AUTO_TEST_CASE(distances_are_symmetric_thread_independent_and_match_geodesic) {
  const std::string model = WriteDecoderModel();
  const auto points = SixPoints();
  std::vector<double> flat;
  for (const auto& z : points) flat.insert(flat.end(), z.data(), z.data() + 2);
  WriteData("geocli_pts.h5", "points", {6, 2}, flat);
  const Run r1 = Cli({"distances", "-model", model, "-points", "geocli_pts.h5:/points", "-output", "geocli_d1.h5",
                      "-threads", "1"});
  BOOST_TEST(r1.code == 0, r1.err);
  const Run r2 = Cli({"distances", "-model", model, "-points", "geocli_pts.h5:/points", "-output", "geocli_d2.h5",
                      "-threads", "2"});
  BOOST_TEST(r2.code == 0, r2.err);
  const Array d1 = Read("geocli_d1.h5", "/distances", {2}), d2 = Read("geocli_d2.h5", "/distances", {2});
  const Array s1 = Read("geocli_d1.h5", "/status", {2});
  BOOST_REQUIRE((d1.shape == std::vector<std::size_t>{6, 6}));
  BOOST_TEST(ReadIntAttribute("geocli_d1.h5", "/", "failed") == 0);
  BOOST_TEST(ReadIntAttribute("geocli_d1.h5", "/", "items") == 15);
  BOOST_TEST(ReadIntAttribute("geocli_d1.h5", "/", "completed_rows") == 6);
  std::vector<std::pair<VectorXd, VectorXd>> pairs;
  for (std::size_t i = 0; i < 6; ++i) {
    BOOST_TEST(d1.data[i * 6 + i] == 0.0);
    for (std::size_t j = 0; j < 6; ++j) {
      BOOST_TEST(d1.data[i * 6 + j] == d1.data[j * 6 + i]);
      BOOST_TEST(d1.data[i * 6 + j] == d2.data[i * 6 + j]);  // bitwise, whatever the thread count
      BOOST_TEST(s1.data[i * 6 + j] == 0);
      if (j > i) pairs.emplace_back(points[i], points[j]);
    }
  }
  WritePairs("geocli_all_pairs.h5", pairs);
  const Run g = Cli({"geodesic", "-model", model, "-pairs", "geocli_all_pairs.h5:/pairs", "-output",
                     "geocli_all.h5"});
  BOOST_TEST(g.code == 0, g.err);
  const Array length = Read("geocli_all.h5", "/length", {1});
  std::size_t k = 0;
  for (std::size_t i = 0; i < 6; ++i) {
    for (std::size_t j = i + 1; j < 6; ++j, ++k) {
      BOOST_TEST(length.data[k] == d1.data[i * 6 + j]);
      BOOST_TEST(length.data[k] > 0);
    }
  }
}

BOOST_AUTO_TEST_CASE(exp_then_geodesic_round_trip_on_the_poincare_half_plane) {
  const std::vector<VectorXd> z = {V({0.0, 1.0}), V({-0.5, 0.4}), V({1.0, 2.0})};
  const std::vector<VectorXd> u = {V({0.8, 0.3}), V({0.2, -0.3}), V({-1.5, 1.0})};
  std::vector<double> zf, uf;
  for (std::size_t i = 0; i < z.size(); ++i) {
    zf.insert(zf.end(), z[i].data(), z[i].data() + 2);
    uf.insert(uf.end(), u[i].data(), u[i].data() + 2);
  }
  WriteData("geocli_exp_z.h5", "z", {3, 2}, zf);
  WriteData("geocli_exp_u.h5", "u", {3, 2}, uf);
  const Run e = Cli({"exp", "-metric_type", "poincare", "-points", "geocli_exp_z.h5:/z", "-velocities",
                     "geocli_exp_u.h5:/u", "-output", "geocli_exp.h5", "-geo_ode_rtol", "1e-12", "-geo_ode_atol",
                     "1e-14", "-curve_samples", "4"});
  BOOST_TEST(e.code == 0, e.err);
  const std::string f = "geocli_exp.h5";
  const Array ends = Read(f, "/endpoints", {2}), vel = Read(f, "/end_velocities", {2}), len = Read(f, "/length", {1});
  const Array en = Read(f, "/energy", {1}), drift = Read(f, "/speed_drift", {1}), st = Read(f, "/status", {1});
  const Array curve = Read(f, "/curve", {3});
  BOOST_TEST((vel.shape == std::vector<std::size_t>{3, 2}));
  BOOST_TEST((curve.shape == std::vector<std::size_t>{3, 4, 2}));
  BOOST_TEST(!Exists(f, "/decoded_curve"));  // a metric given directly has no data space
  BOOST_TEST(ReadIntAttribute(f, "/", "items") == 3);
  BOOST_TEST(ReadIntAttribute(f, "/", "failed") == 0);
  BOOST_TEST(ReadIntAttribute(f, "/", "total_steps") > 0);  // the exponential maps' integrations
  BOOST_TEST(ReadStrings(DatasetName::Parse(f + ":/status_message")).size() == 3u);
  std::vector<std::pair<VectorXd, VectorXd>> pairs;
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(st.data[i] == 0);
    const VectorXd end = Eigen::Map<const VectorXd>(ends.data.data() + 2 * i, 2);
    BOOST_TEST(std::abs(curve.data[i * 8 + 6] - end[0]) < 1e-14);
    const double speed = u[i].norm() / z[i][1];  // |u|_M at z
    BOOST_TEST(std::abs(len.data[i] - speed) < 1e-7);
    BOOST_TEST(std::abs(en.data[i] - speed * speed) < 1e-6);
    BOOST_TEST(drift.data[i] < 1e-8);
    BOOST_TEST(std::abs(PoincareDistance(z[i], end) - speed) < 1e-7);  // geodesics minimise locally
    pairs.emplace_back(z[i], end);
  }
  WritePairs("geocli_round_pairs.h5", pairs);
  const Run g = Cli({"geodesic", "-metric_type", "poincare", "-pairs", "geocli_round_pairs.h5:/pairs", "-output",
                     "geocli_round.h5", "-bvp_ode_rtol", "1e-11", "-bvp_ode_atol", "1e-13",
                     "-bvp_tol", "1e-9"});
  BOOST_TEST(g.code == 0, g.err);
  const Array back = Read("geocli_round.h5", "/initial_velocity", {2});
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t k = 0; k < 2; ++k) {
      BOOST_TEST(std::abs(back.data[2 * i + k] - u[i][static_cast<Eigen::Index>(k)]) < 1e-6,
                 "point " << i << ": " << back.data[2 * i + k] << " vs " << u[i][static_cast<Eigen::Index>(k)]);
    }
  }
}

BOOST_AUTO_TEST_CASE(stochastic_metric_decodes_with_the_mean) {
  const std::string model = "geocli_stochastic.h5";
  std::filesystem::remove(model);
  WriteMlp(model, "/decoder/mean", RandomMlp(2, 4, {8}, TimeInput::kNone, Activation::kTanh, 41u, 0.7));
  Mlp sd = RandomMlp(2, 4, {6}, TimeInput::kNone, Activation::kElu, 42u, 0.5);
  sd.output_activation = Activation::kSoftplus;
  WriteMlp(model, "/decoder/std", sd);
  WritePairs("geocli_sto_pairs.h5", {{V({0.1, 0.2}), V({-0.3, 0.4})}, {V({0.5, -0.2}), V({-0.4, -0.5})}});
  const Run r = Cli({"geodesic", "-model", model, "-metric", "stochastic", "-pairs", "geocli_sto_pairs.h5:/pairs",
                     "-output", "geocli_sto.h5", "-curve_samples", "3"});
  BOOST_TEST(r.code == 0, r.err);
  const Array length = Read("geocli_sto.h5", "/length", {1}), decoded = Read("geocli_sto.h5", "/decoded_curve", {3});
  BOOST_TEST((decoded.shape == std::vector<std::size_t>{2, 3, 4}));
  const Run m = Cli({"geodesic", "-model", model, "-pairs", "geocli_sto_pairs.h5:/pairs", "-output", "geocli_mean.h5"});
  BOOST_TEST(m.code == 0, m.err);
  const Array mean_length = Read("geocli_mean.h5", "/length", {1});
  // The expected metric adds J_sigma^T J_sigma >= 0: geodesics are at least as long.
  for (std::size_t p = 0; p < 2; ++p) BOOST_TEST(length.data[p] > mean_length.data[p]);
  BOOST_TEST(ReadRootStringAttribute("geocli_sto.h5", "metric").find("stochastic") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(distances_report_failed_pairs) {
  WriteData("geocli_hpts.h5", "points", {3, 2}, {-1.0, 0.5, 1.0, 1.5, -1.0, 0.6});
  const Run r = Cli({"distances", "-metric_type", "poincare", "-points", "geocli_hpts.h5:/points", "-output",
                     "geocli_hd.h5", "-bvp_max_iterations", "1", "-threads", "3"});
  BOOST_TEST(r.code == 1, r.err);
  const std::int64_t failed = ReadIntAttribute("geocli_hd.h5", "/", "failed");
  BOOST_TEST(failed >= 1);
  const Array st = Read("geocli_hd.h5", "/status", {2}), d = Read("geocli_hd.h5", "/distances", {2});
  // `failed` counts the unusable pairs i < j (status neither 0 nor 7); their messages are in status_message (N x N).
  std::int64_t unusable = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    for (std::size_t j = i + 1; j < 3; ++j) unusable += st.data[i * 3 + j] != 0 && st.data[i * 3 + j] != 7;
  }
  BOOST_TEST(failed == unusable);
  const auto messages = ReadStrings(DatasetName::Parse("geocli_hd.h5:/status_message"));
  BOOST_TEST_REQUIRE(messages.size() == 9u);
  BOOST_TEST(!messages[0 * 3 + 1].empty());
  BOOST_TEST(messages[0 * 3 + 1] == messages[1 * 3 + 0]);
  BOOST_TEST(messages[0 * 3 + 0].empty());
  BOOST_TEST(st.data[0 * 3 + 1] == 5);  // approximate (nothing verified), in both triangles
  BOOST_TEST(st.data[1 * 3 + 0] == 5);
  BOOST_TEST(std::isnan(d.data[1]));
  BOOST_TEST(d.data[4] == 0.0);
  BOOST_TEST(r.err.find("pair (0, 1)") != std::string::npos, r.err);
}

BOOST_AUTO_TEST_CASE(multiple_shooting_and_the_graph_guess_from_the_command_line) {
  // Nearly antipodal points on the sphere: from the straight line single shooting lands on the long arc of the great
  // circle; the graph guess (points spread over the sphere) and the discrete geodesic start on the short side.
  auto from_sphere = [](double x, double y, double z) { return V({x / (1 - z), y / (1 - z)}); };
  const double gap = 0.2;
  const VectorXd a = from_sphere(1, 0, 0), b = from_sphere(-std::cos(gap), std::sin(gap), 0);
  WritePairs("geocli_anti_pairs.h5", {{a, b}, {V({0.1, 0.2}), V({0.8, -0.3})}});
  std::vector<double> cloud;
  const int m = 400;
  for (int k = 0; k < m; ++k) {
    const double zc = 1 - 2 * (k + 0.5) / m, rc = std::sqrt(1 - zc * zc), phi = k * 2.399963229728653;
    if (zc >= 0.6) continue;
    const VectorXd p = from_sphere(rc * std::cos(phi), rc * std::sin(phi), zc);
    cloud.push_back(p[0]);
    cloud.push_back(p[1]);
  }
  WriteData("geocli_cloud.h5", "points", {cloud.size() / 2, 2}, cloud);
  const double d = SphereDistance(a, b), d2 = SphereDistance(V({0.1, 0.2}), V({0.8, -0.3}));

  const Run line = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs", "-output",
                        "geocli_anti_line.h5", "-bvp_ode_rtol", "1e-10", "-bvp_ode_atol", "1e-12", "-bvp_init",
                        "line", "-bvp_minimality_rtol", "-1", "-bvp_type", "shooting",
                        // the long arc comes after a slow start that the stagnation test would cut short
                        "-bvp_stagnation_iterations", "0"});
  BOOST_TEST(line.code == 0, line.err);
  const Array line_length = Read("geocli_anti_line.h5", "/length", {1});
  BOOST_TEST(std::abs(line_length.data[0] - (2 * std::numbers::pi - d)) < 1e-6, "long arc expected from the line");
  BOOST_TEST(ReadRootStringAttribute("geocli_anti_line.h5", "bvp_init") == "line");
  // With the minimality check (default), the long arc is longer than the line itself: not the distance. The sphere
  // is a decoder's metric, so the distance then comes from the extrapolated discrete geodesics, and the message
  // says why.
  const Run checked = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs", "-output",
                           "geocli_anti_checked.h5", "-bvp_ode_rtol", "1e-10", "-bvp_ode_atol", "1e-12", "-bvp_init",
                           "line", "-bvp_type", "shooting", "-bvp_stagnation_iterations", "0"});
  BOOST_TEST(checked.code == 0, checked.err);
  const Array checked_status = Read("geocli_anti_checked.h5", "/status", {1});
  BOOST_TEST((checked_status.data[0] == 0 || checked_status.data[0] == 7));  // success or extrapolated
  BOOST_TEST(checked_status.data[1] == 0);
  const Array checked_length = Read("geocli_anti_checked.h5", "/length", {1});
  BOOST_TEST(std::abs(checked_length.data[0] - d) < 1e-6);
  const auto checked_messages = ReadStrings(DatasetName::Parse("geocli_anti_checked.h5:/status_message"));
  BOOST_TEST(checked_messages.at(0).find("shooting geodesic is not the distance") != std::string::npos,
             checked_messages.at(0));

  // The default guess, the discrete geodesic next to the line.
  const Run discrete = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs",
                            "-output", "geocli_anti_discrete.h5", "-bvp_ode_rtol", "1e-10", "-bvp_ode_atol",
                            "1e-12"});
  BOOST_TEST(discrete.code == 0, discrete.err);
  const Array discrete_length = Read("geocli_anti_discrete.h5", "/length", {1});
  BOOST_TEST_MESSAGE("near-antipodal pair from the discrete geodesic: L = " << discrete_length.data[0] << ", d = "
                                                                            << d);
  BOOST_TEST(std::abs(discrete_length.data[0] - d) < 1e-6, "the short arc expected from the discrete geodesic");
  BOOST_TEST(std::abs(discrete_length.data[1] - d2) < 1e-6);
  BOOST_TEST(ReadRootStringAttribute("geocli_anti_discrete.h5", "bvp_init") == "discrete");

  const Run graph = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs", "-output",
                         "geocli_anti_graph.h5", "-bvp_ode_rtol", "1e-10", "-bvp_ode_atol", "1e-12", "-bvp_init",
                         "graph", "-graph_points", "geocli_cloud.h5:/points", "-graph_neighbors", "12"});
  BOOST_TEST(graph.code == 0, graph.err);
  const Array graph_length = Read("geocli_anti_graph.h5", "/length", {1});
  BOOST_TEST(std::abs(graph_length.data[0] - d) < 1e-6, graph_length.data[0] << " vs " << d);
  BOOST_TEST(std::abs(graph_length.data[1] - d2) < 1e-6);
  BOOST_TEST(ReadRootStringAttribute("geocli_anti_graph.h5", "bvp_init") == "graph");

  const Run ms = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs", "-output",
                      "geocli_anti_ms.h5", "-bvp_type", "multiple_shooting", "-bvp_segments", "6", "-bvp_init",
                      "graph", "-graph_points", "geocli_cloud.h5:/points", "-graph_neighbors", "12", "-bvp_monitor"});
  BOOST_TEST(ms.code == 0, ms.err);
  const Array ms_length = Read("geocli_anti_ms.h5", "/length", {1});
  BOOST_TEST(std::abs(ms_length.data[0] - d) < 1e-5);
  BOOST_TEST(std::abs(ms_length.data[1] - d2) < 1e-5);
  BOOST_TEST(ReadRootStringAttribute("geocli_anti_ms.h5", "bvp_type") == "multiple_shooting");
  BOOST_TEST(ms.err.find("pair 0: multiple_shooting (presolve) it   0") != std::string::npos, ms.err);
  BOOST_TEST(ms.err.find("pair 1: multiple_shooting (refine) it   0") != std::string::npos, ms.err);

  // -log_view: the solver events, printed at exit and stored with the results.
  WriteData("geocli_lv_points.h5", "points", {3, 2}, {0.1, 0.2, 0.8, -0.3, -0.5, 0.4});
  const Run lv = Cli({"distances", "-metric_type", "sphere", "-points", "geocli_lv_points.h5:/points", "-output",
                      "geocli_lv.h5", "-log_view", "-threads", "1"});
  BOOST_TEST(lv.code == 0, lv.err);
  for (const char* event : {"LogMap", "ShotWithJacobian", "GeodesicAcceleration", "HDF5Write"}) {
    BOOST_TEST(lv.out.find(event) != std::string::npos, event << " missing from:\n" << lv.out);
    BOOST_TEST(ReadRootStringAttribute("geocli_lv.h5", "event_log").find(event) != std::string::npos, event);
  }

  // Bad set-ups are refused before anything is solved.
  Run bad = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs", "-output",
                 "geocli_anti_bad.h5", "-bvp_init", "graph"});
  BOOST_TEST(bad.code == 2);
  BOOST_TEST(bad.err.find("-graph_points") != std::string::npos, bad.err);
  bad = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs", "-output",
             "geocli_anti_bad.h5", "-bvp_type", "colocation"});
  BOOST_TEST(bad.code == 2);
  BOOST_TEST(bad.err.find("multiple_shooting") != std::string::npos, bad.err);
  bad = Cli({"geodesic", "-metric_type", "sphere", "-pairs", "geocli_anti_pairs.h5:/pairs", "-output",
             "geocli_anti_bad.h5", "-bvp_init", "graph", "-graph_points", "geocli_anti_pairs.h5:/pairs"});
  BOOST_TEST(bad.code == 2);
  BOOST_TEST(bad.err.find("geocli_anti_pairs.h5") != std::string::npos, bad.err);
  BOOST_TEST(!std::filesystem::exists("geocli_anti_bad.h5"));
}

BOOST_AUTO_TEST_CASE(distances_triangle_pass_replaces_the_long_arc_and_records_it) {
  // Nearly antipodal a, b on the equator of the sphere and c halfway along the short arc. From the straight line
  // (the options of the test above) single shooting lands on the long arc for (a, b); d(a, c) + d(c, b) exposes it
  // and the triangle pass re-solves (a, b) from the geodesics a -> c -> b.
  const double gap = 0.2, pi = std::numbers::pi;
  auto equator = [](double theta) { return std::vector<double>{std::cos(theta), std::sin(theta)}; };
  std::vector<double> flat;
  for (double theta : {0.0, pi - gap, (pi - gap) / 2}) {
    const auto p = equator(theta);
    flat.insert(flat.end(), p.begin(), p.end());
  }
  WriteData("geocli_tri_points.h5", "points", {3, 2}, flat);
  const std::vector<std::string> common = {"distances",    "-metric_type", "sphere", "-points",
                                           "geocli_tri_points.h5:/points", "-bvp_ode_rtol", "1e-10",
                                           "-bvp_ode_atol", "1e-12",       "-bvp_init",     "line",
                                           // the per-pair minimality check off: the matrix's own pass is tested
                                           "-bvp_minimality_rtol", "-1", "-bvp_type", "shooting",
                                           // the long arc comes after a slow start (see the test above)
                                           "-bvp_stagnation_iterations", "0"};
  auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = common;
    args.insert(args.end(), extra.begin(), extra.end());
    return Cli(args);
  };
  // Report only: the violation is listed, the long arc kept.
  const Run report = with({"-output", "geocli_tri_report.h5", "-distances_triangle_rounds", "0"});
  BOOST_TEST(report.code == 0, report.err);
  const Array d0 = Read("geocli_tri_report.h5", "/distances", {2});
  BOOST_TEST(std::abs(d0.data[1] - (pi + gap)) < 1e-6, "the long arc expected from the line: " << d0.data[1]);
  BOOST_TEST(ReadIntAttribute("geocli_tri_report.h5", "/triangle", "violations") == 1);
  BOOST_TEST(ReadIntAttribute("geocli_tri_report.h5", "/triangle", "resolved") == 0);
  BOOST_TEST(Read("geocli_tri_report.h5", "/triangle/violation_k", {1}).data.at(0) == 2.0);
  BOOST_TEST(report.err.find("1 violations left") != std::string::npos, report.err);

  for (const char* threads : {"1", "2"}) {
    const std::string out = std::string("geocli_tri_") + threads + ".h5";
    const Run r = with({"-output", out, "-threads", threads});
    BOOST_TEST(r.code == 0, r.err);
    const Array d = Read(out, "/distances", {2});
    BOOST_TEST(std::abs(d.data[1] - (pi - gap)) < 1e-6, "the short arc after the triangle pass: " << d.data[1]);
    BOOST_TEST(d.data[3] == d.data[1]);
    BOOST_TEST(ReadIntAttribute(out, "/", "completed_rows") == 3);
    BOOST_TEST(ReadIntAttribute(out, "/triangle", "changed") == 1);
    BOOST_TEST(ReadIntAttribute(out, "/triangle", "violations") == 0);
    BOOST_TEST(ReadIntAttribute(out, "/triangle", "rounds") == 1);
    const Array i = Read(out, "/triangle/repair_i", {1}), j = Read(out, "/triangle/repair_j", {1}),
                k = Read(out, "/triangle/repair_k", {1}), changed = Read(out, "/triangle/repair_changed", {1}),
                old_length = Read(out, "/triangle/repair_old_length", {1}),
                new_length = Read(out, "/triangle/repair_new_length", {1});
    BOOST_TEST_REQUIRE(i.data.size() == 1u);
    BOOST_TEST(i.data[0] == 0.0);
    BOOST_TEST(j.data[0] == 1.0);
    BOOST_TEST(k.data[0] == 2.0);
    BOOST_TEST(changed.data[0] == 1.0);
    BOOST_TEST(old_length.data[0] == d0.data[1]);
    BOOST_TEST(new_length.data[0] == d.data[1]);
    BOOST_TEST(r.err.find("1 shortened, 0 violations left") != std::string::npos, r.err);
  }
}
