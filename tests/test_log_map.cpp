#define BOOST_TEST_MODULE log_map
#include <boost/test/unit_test.hpp>
#include <ceres/solver.h>

#include <cmath>
#include <numbers>
#include <sstream>
#include <string>
#include <vector>

#include "pushpull/closed_form_geometries.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/geodesic.hpp"
#include "pushpull/geodesic_graph.hpp"
#include "pushpull/log_map.hpp"
#include "pushpull/metric.hpp"
#include "pushpull/mlp.hpp"
#include "pushpull/options.hpp"
#include "test_support.hpp"

using namespace pushpull;
using pushpull::testing::ExpectInputError;
using pushpull::testing::FromSphere;
using pushpull::testing::NearAntipodal;
using pushpull::testing::V2;
using Eigen::MatrixXd;
using Eigen::VectorXd;

namespace {

LogMapOptions At(double tol, const std::string& type) {
  LogMapOptions o;
  o.type = type;
  o.fallback = false;
  o.shots.ode.rtol = tol;
  o.shots.ode.atol = tol * 1e-2;
  o.tol = std::max(1e3 * tol, 1e-8);
  // The verification follows the tolerance (docs: two or three orders below bvp_tol's relative size and more).
  o.verify.ode.rtol = std::max(1e-2 * tol, 1e-13);
  o.verify.ode.atol = 1e-2 * o.verify.ode.rtol;
  return o;
}

PullbackMetric Sphere() { return PullbackMetric(MakeStereographicSphereDecoder(2)); }

class Recorder : public BvpMonitor {
 public:
  void operator()(const BvpIterationEvent& e) override { events.push_back(e); }
  std::vector<BvpIterationEvent> events;
};

}  // namespace

BOOST_AUTO_TEST_CASE(multiple_shooting_matches_the_sphere_distance_and_error_falls_with_tolerance) {
  const PullbackMetric metric = Sphere();
  const std::vector<std::pair<VectorXd, VectorXd>> pairs = {
      {V2(0.3, -0.2), V2(-0.5, 0.7)}, {V2(1.2, 0.1), V2(-0.4, -1.1)}, {V2(-0.2, -0.9), V2(0.8, 0.6)}};
  std::vector<double> worst;
  for (double tol : {1e-6, 1e-8, 1e-10}) {
    double w = 0;
    for (const auto& [a, b] : pairs) {
      const LogMapResult r = LogMap(metric, a, b, At(tol, "multiple_shooting"));
      BOOST_TEST_REQUIRE(r.usable(), r.message);
      BOOST_TEST(r.solver == "multiple_shooting");
      const double d = SphereDistance(a, b);
      w = std::max(w, std::abs(r.length - d) / d);
      BOOST_TEST(r.endpoint_error <= At(tol, "multiple_shooting").tol);
      // Loose shots first, as in single shooting; the converged result does not depend on it (checked below).
      BOOST_TEST(r.message.find("presolve iterations at rtol 1e-04, then") != std::string::npos, r.message);
    }
    BOOST_TEST(w <= 100 * tol, "tol " << tol << ": relative distance error " << w);
    worst.push_back(w);
  }
  BOOST_TEST(worst.back() < 0.01 * worst.front());
  // Without the presolve: the same distances within the tolerance, and the monitor shows no presolve phase.
  LogMapOptions o = At(1e-9, "multiple_shooting");
  o.presolve_rtol = 0;
  Recorder rec;
  const LogMapResult plain = LogMap(metric, pairs[0].first, pairs[0].second, o, nullptr, &rec);
  BOOST_TEST_REQUIRE(plain.usable(), plain.message);
  BOOST_TEST(plain.message.find("presolve") == std::string::npos, plain.message);
  for (const auto& e : rec.events) BOOST_TEST(e.solver == "multiple_shooting");
  o.presolve_rtol = 1e-4;
  Recorder pre;
  const LogMapResult with = LogMap(metric, pairs[0].first, pairs[0].second, o, nullptr, &pre);
  BOOST_TEST_REQUIRE(with.usable(), with.message);
  BOOST_TEST(pre.events.front().solver == "multiple_shooting (presolve)");
  // After the presolve, Newton steps on verification shots with the Jacobian composed from the segments.
  BOOST_TEST(pre.events.back().solver == "multiple_shooting (refine)");
  BOOST_TEST(with.message.find("Newton steps with the presolve Jacobian on verification shots (the Jacobian "
                               "composed from 8 segments)") != std::string::npos,
             with.message);
  BOOST_TEST(std::abs(with.length - plain.length) <= 1e-7 * plain.length);
  // Without the refinement the segments' own iteration on -bvp_ode_rtol shots finishes: the same distance.
  o.refine_iterations = 0;
  Recorder segments;
  const LogMapResult own = LogMap(metric, pairs[0].first, pairs[0].second, o, nullptr, &segments);
  BOOST_TEST_REQUIRE(own.usable(), own.message);
  BOOST_TEST(segments.events.back().solver == "multiple_shooting");
  BOOST_TEST(own.message.find("Newton steps") == std::string::npos, own.message);
  BOOST_TEST(std::abs(own.length - with.length) <= 1e-7 * with.length);
  BOOST_TEST(own.iterations > with.iterations);
}

BOOST_AUTO_TEST_CASE(multiple_and_single_shooting_agree_on_an_mlp_decoder) {
  Mlp mlp = RandomMlp(2, 5, {16, 16}, TimeInput::kNone, Activation::kTanh, 3, 1.0);
  mlp.output_activation = Activation::kSigmoid;
  const PullbackMetric metric(std::make_shared<MlpDecoder>(mlp));
  for (const auto& [a, b] : std::vector<std::pair<VectorXd, VectorXd>>{{V2(0.2, -0.4), V2(-0.6, 0.5)},
                                                                      {V2(-1.0, 0.3), V2(0.7, 0.9)}}) {
    const LogMapResult s = LogMap(metric, a, b, At(1e-10, "shooting"));
    const LogMapResult m = LogMap(metric, a, b, At(1e-10, "multiple_shooting"));
    BOOST_TEST_REQUIRE(s.usable(), s.message);
    BOOST_TEST_REQUIRE(m.usable(), m.message);
    BOOST_TEST(std::abs(s.length - m.length) <= 1e-7 * s.length);
    BOOST_TEST((s.initial_velocity - m.initial_velocity).cwiseAbs().maxCoeff() <= 1e-6);
  }
}

BOOST_AUTO_TEST_CASE(state_jacobian_of_the_geodesic_flow_matches_finite_differences) {
  const PullbackMetric metric = Sphere();
  const VectorXd z = V2(0.3, -0.4), u = V2(0.5, 0.8);
  GeodesicOptions g;
  g.ode.type = "adams";
  g.ode.rtol = 1e-12;
  g.ode.atol = 1e-14;
  const ExpMapResult r = ExpMapWithStateJacobian(metric, z, u, g);
  BOOST_TEST_REQUIRE(r.usable(), r.message);
  BOOST_TEST_REQUIRE(r.end_jacobian.rows() == 4);
  BOOST_TEST_REQUIRE(r.end_jacobian.cols() == 4);
  const double h = 1e-6;
  for (int k = 0; k < 4; ++k) {
    const pushpull::testing::StateNeighbours n = pushpull::testing::PerturbState(z, u, k, h);
    const ExpMapResult p = ExpMap(metric, n.zp, n.up, g), m = ExpMap(metric, n.zm, n.um, g);
    VectorXd col(4);
    col << (p.end_point - m.end_point) / (2 * h), (p.end_velocity - m.end_velocity) / (2 * h);
    BOOST_TEST((col - r.end_jacobian.col(k)).cwiseAbs().maxCoeff() <= 1e-6 * std::max(1.0, col.cwiseAbs().maxCoeff()),
               "column " << k);
  }
  // The velocity columns are the single-shooting Jacobian.
  const ExpMapResult s = ExpMapWithJacobian(metric, z, u, g);
  BOOST_TEST((s.end_jacobian - r.end_jacobian.topRightCorner(2, 2)).cwiseAbs().maxCoeff() <= 1e-8);
}

BOOST_AUTO_TEST_CASE(the_graph_guess_finds_the_minimal_geodesic_where_the_line_finds_the_long_arc) {
  const PullbackMetric metric = Sphere();
  // Points spread over the sphere below z = 0.6 (Fibonacci lattice) as the graph.
  std::vector<VectorXd> kept;
  const int m = 500;
  for (int k = 0; k < m; ++k) {
    const double zc = 1 - 2 * (k + 0.5) / m, rc = std::sqrt(1 - zc * zc);
    const double phi = k * std::numbers::pi * (3 - std::sqrt(5.0));
    if (zc < 0.6) kept.push_back(FromSphere(Eigen::Vector3d(rc * std::cos(phi), rc * std::sin(phi), zc)));
  }
  RowMatrixXd cloud(static_cast<Eigen::Index>(kept.size()), 2);
  for (std::size_t k = 0; k < kept.size(); ++k) cloud.row(static_cast<Eigen::Index>(k)) = kept[k].transpose();
  GeodesicGraphOptions go;
  go.neighbors = 12;
  const GeodesicGraph graph(metric, cloud, go);

  int line_long_arcs = 0;
  for (double gap : {0.2, 0.1}) {
    const auto [a, b] = NearAntipodal(gap);
    const double d = SphereDistance(a, b);
    LogMapOptions from_line = At(1e-9, "shooting");
    from_line.init = "line";
    from_line.minimality_rtol = -1;  // the long arc is what the line reaches; the checks would flag it
    // ... after a slow start that the stagnation test would cut short (the fallback then finds the short arc)
    from_line.stagnation_iterations = 0;
    const LogMapResult line = LogMap(metric, a, b, from_line);
    if (line.usable() && std::abs(line.length - (2 * std::numbers::pi - d)) < 1e-4) ++line_long_arcs;
    const LogMapResult discrete = LogMap(metric, a, b, At(1e-9, "shooting"));
    BOOST_TEST_MESSAGE("gap " << gap << ": from the line L = " << line.length << ", from the discrete geodesic L = "
                              << discrete.length << " (" << discrete.message << "), d = " << d);
    // The discrete geodesic (the default guess) bends to the short side of the sphere: the minimal geodesic.
    BOOST_TEST_REQUIRE(discrete.usable(), discrete.message);
    BOOST_TEST(std::abs(discrete.length - d) / d <= 1e-6, "gap " << gap << ": L = " << discrete.length);
    const InitialCurve guess = graph.ShortestPath(metric, a, b);
    BOOST_TEST(guess.description.find("graph") == 0, guess.description);
    const LogMapResult r = LogMap(metric, a, b, At(1e-9, "shooting"), &guess);
    BOOST_TEST_REQUIRE(r.usable(), r.message);
    BOOST_TEST(std::abs(r.length - d) / d <= 1e-6, "gap " << gap << ": L = " << r.length << ", d = " << d);
    BOOST_TEST(r.message.find("graph") != std::string::npos, r.message);
    const LogMapResult ms = LogMap(metric, a, b, At(1e-9, "multiple_shooting"), &guess);
    BOOST_TEST_REQUIRE(ms.usable(), ms.message);
    BOOST_TEST(std::abs(ms.length - d) / d <= 1e-6, "multiple shooting, gap " << gap);
  }
  // The point of the graph: from the straight line, at least one of these pairs lands on the long arc.
  BOOST_TEST(line_long_arcs >= 1);
}

BOOST_AUTO_TEST_CASE(a_failed_single_shooting_falls_back_to_multiple_shooting_and_says_so) {
  const PullbackMetric metric = Sphere();
  const auto [a, b] = NearAntipodal(1e-3);
  LogMapOptions o = At(1e-8, "shooting");
  o.max_iterations = 3;
  const LogMapResult without = LogMap(metric, a, b, o);
  BOOST_TEST_REQUIRE(!without.usable());
  BOOST_TEST(without.solver == "shooting");
  BOOST_TEST(without.message.find("fallback") == std::string::npos);
  o.fallback = true;
  o.max_iterations = 50;  // the fallback's solvers iterate as usual; single shooting fails on its own
  o.type = "shooting";
  LogMapOptions single = o;
  single.fallback = false;
  single.max_iterations = 3;
  BOOST_TEST_REQUIRE(!LogMap(metric, a, b, single).usable());
  o.max_iterations = 3;
  const LogMapResult with = LogMap(metric, a, b, o);
  BOOST_TEST_MESSAGE(with.message);
  // Multiple shooting and collocation get 3 iterations too; the last fallback (discrete geodesics, extrapolated) has
  // no iteration limit of its own here and converges.
  BOOST_TEST((with.solver == "multiple_shooting" || with.solver == "collocation" || with.solver == "discrete"),
             with.solver);
  BOOST_TEST(with.usable(), with.message);
  BOOST_TEST(with.message.find("fallback multiple shooting") != std::string::npos, with.message);
  BOOST_TEST(with.message.find("shooting failed first") != std::string::npos, with.message);
  BOOST_TEST(with.iterations > without.iterations);
  // Collocation as the -bvp_type is not retried by the shooting solvers (only the discrete geodesics follow it).
  o.type = "collocation";
  const LogMapResult co = LogMap(metric, a, b, o);
  BOOST_TEST(co.message.find("fallback multiple shooting") == std::string::npos, co.message);
  BOOST_TEST(co.message.find("fallback collocation") == std::string::npos, co.message);
}

BOOST_AUTO_TEST_CASE(the_monitor_sees_every_iteration_with_falling_cost) {
  const PullbackMetric metric = Sphere();
  // From the line: coarse presolve and presolve (Levenberg-Marquardt on loose shots), then Newton steps on
  // verification shots (refine).
  LogMapOptions from_line = At(1e-10, "shooting");
  from_line.init = "line";
  Recorder rec;
  const LogMapResult r = LogMap(metric, V2(0.3, -0.2), V2(-0.5, 0.7), from_line, nullptr, &rec);
  BOOST_TEST_REQUIRE(r.usable(), r.message);
  BOOST_TEST_REQUIRE(rec.events.size() >= 3u);
  BOOST_TEST(rec.events.front().iteration == 0);
  // The phases in order: coarse presolve, presolve, refinement.
  auto phases = [](const std::vector<BvpIterationEvent>& events) {
    std::vector<std::string> names;
    for (const auto& e : events) {
      if (names.empty() || names.back() != e.solver) names.push_back(e.solver);
    }
    return names;
  };
  const std::vector<std::string> expected = {"shooting (coarse presolve)", "shooting (presolve)", "shooting (refine)"};
  BOOST_TEST(phases(rec.events) == expected, boost::test_tools::per_element());
  BOOST_TEST(rec.events.back().cost < 1e-6 * rec.events.front().cost);
  BOOST_TEST(r.message.find("coarse presolve iterations at rtol 0.01") != std::string::npos, r.message);
  BOOST_TEST(r.message.find("presolve iterations at rtol 1e-04") != std::string::npos, r.message);
  BOOST_TEST(r.message.find("Newton steps with the presolve Jacobian on verification shots") != std::string::npos,
             r.message);
  // Ceres counts its iteration 0 (the initial evaluation) among the steps; the refinement's iteration 0 is the first
  // verification shot, before any step.
  BOOST_TEST(static_cast<int>(rec.events.size()) == r.iterations + 1);
  // The refinement's residuals fall, and its last shot is the verification: cost = |end-point error|^2 / 2 at most.
  double previous = INFINITY;
  for (const auto& e : rec.events) {
    if (e.solver != "shooting (refine)") continue;
    BOOST_TEST(e.cost < previous);
    previous = e.cost;
  }
  BOOST_TEST(r.endpoint_error <= std::sqrt(2 * rec.events.back().cost) * (1 + 1e-12));
  // The coarse level starts from its own trust-region radius (-bvp_presolve_coarse_trust_radius), the presolve from
  // Ceres' default.
  auto first_radius = [](const std::vector<BvpIterationEvent>& events, const std::string& phase) {
    for (const auto& e : events) {
      if (e.solver == phase) return e.trust_region_radius;
    }
    return -1.0;
  };
  BOOST_TEST(first_radius(rec.events, "shooting (coarse presolve)") == LogMapOptions().presolve_coarse_trust_radius);
  BOOST_TEST(first_radius(rec.events, "shooting (presolve)") == ceres::Solver::Options().initial_trust_region_radius);
  LogMapOptions wide = from_line;
  wide.presolve_coarse_trust_radius = 1e3;
  Recorder wide_rec;
  const LogMapResult w = LogMap(metric, V2(0.3, -0.2), V2(-0.5, 0.7), wide, nullptr, &wide_rec);
  BOOST_TEST_REQUIRE(w.usable(), w.message);
  BOOST_TEST(first_radius(wide_rec.events, "shooting (coarse presolve)") == 1e3);
  BOOST_TEST(std::abs(w.length - r.length) <= 1e-8 * r.length);

  // From the discrete geodesic (the default guess, refined): no coarse level, the same geodesic.
  Recorder discrete_rec;
  const LogMapResult dg = LogMap(metric, V2(0.3, -0.2), V2(-0.5, 0.7), At(1e-10, "shooting"), nullptr, &discrete_rec);
  BOOST_TEST_REQUIRE(dg.usable(), dg.message);
  const std::vector<std::string> expected_discrete = {"shooting (presolve)", "shooting (refine)"};
  BOOST_TEST(phases(discrete_rec.events) == expected_discrete, boost::test_tools::per_element());
  BOOST_TEST(dg.message.find("from the discrete geodesic") != std::string::npos, dg.message);
  BOOST_TEST(std::abs(dg.length - r.length) <= 1e-8 * r.length);
  BOOST_TEST(dg.iterations < r.iterations);

  // Without the refinement the tight Levenberg-Marquardt iterations finish the solve.
  LogMapOptions o = from_line;
  o.refine_iterations = 0;
  Recorder tight;
  const LogMapResult t = LogMap(metric, V2(0.3, -0.2), V2(-0.5, 0.7), o, nullptr, &tight);
  BOOST_TEST_REQUIRE(t.usable(), t.message);
  BOOST_TEST(static_cast<int>(tight.events.size()) == t.iterations);
  const std::vector<std::string> expected_tight = {"shooting (coarse presolve)", "shooting (presolve)", "shooting"};
  BOOST_TEST(phases(tight.events) == expected_tight, boost::test_tools::per_element());
  BOOST_TEST(t.message.find("Newton steps") == std::string::npos, t.message);
  BOOST_TEST(std::abs(t.length - r.length) <= 1e-8 * r.length);
  std::ostringstream out;
  const auto printer = MakeBvpPrinter(out, "pair 7");
  (*printer)(tight.events.back());
  BOOST_TEST(out.str().find("pair 7: shooting it") == 0, out.str());
}

BOOST_AUTO_TEST_CASE(the_refinement_reaches_the_closed_form_distance_and_its_error_falls_with_tolerance) {
  const PullbackMetric metric = Sphere();
  const VectorXd a = V2(0.3, -0.2), b = V2(-0.5, 0.7);
  const double d = SphereDistance(a, b);
  std::vector<double> errors;
  for (double tol : {1e-5, 1e-7, 1e-9}) {
    LogMapOptions o;
    o.fallback = false;
    o.tol = tol;
    o.verify.ode.rtol = tol * 1e-3;
    o.verify.ode.atol = tol * 1e-5;
    const LogMapResult r = LogMap(metric, a, b, o);
    BOOST_TEST_REQUIRE(r.usable(), r.message);
    BOOST_TEST(r.message.find("Newton steps with the presolve Jacobian") != std::string::npos, r.message);
    BOOST_TEST(r.endpoint_error <= tol);
    errors.push_back(std::abs(r.length - d) / d);
    BOOST_TEST(errors.back() <= 10 * tol, "tol " << tol << ": error " << errors.back());
  }
  BOOST_TEST(errors[2] < errors[0]);
}

BOOST_AUTO_TEST_CASE(a_first_shot_into_a_singularity_is_retried_with_a_halved_velocity) {
  // The geodesic along the straight line's velocity runs into a singularity of this decoder's metric at t ~ 0.97
  // (the latent curve escapes to infinity where the sigmoid saturates), so the first shot fails.
  Mlp mlp = RandomMlp(2, 64, {64, 64}, TimeInput::kNone, Activation::kTanh, 11, 1.0);
  mlp.output_activation = Activation::kSigmoid;
  const PullbackMetric metric(std::make_shared<MlpDecoder>(mlp));
  const VectorXd a = V2(-0.22414013166430599, 0.084052735398201933);
  const VectorXd b = V2(0.70485751467662028, -1.1006083084036966);
  const ExpMapResult first = ExpMap(metric, a, b - a, LogMapOptions().shots);
  BOOST_TEST_REQUIRE(!first.usable());
  LogMapOptions o;
  o.type = "shooting";  // the first shot along the line's velocity is single shooting's
  o.init = "line";
  o.fallback = false;
  o.start_halvings = 0;
  const LogMapResult none = LogMap(metric, a, b, o);
  BOOST_TEST(!none.usable());
  BOOST_TEST(none.message.find("failed") != std::string::npos, none.message);
  o.start_halvings = 6;
  const LogMapResult r = LogMap(metric, a, b, o);
  BOOST_TEST_REQUIRE(r.usable(), r.message);
  BOOST_TEST(r.message.find("halved") != std::string::npos, r.message);
  BOOST_TEST(r.endpoint_error <= o.tol);
  // The same geodesic as multiple shooting finds from the line.
  o.type = "multiple_shooting";
  const LogMapResult m = LogMap(metric, a, b, o);
  BOOST_TEST_REQUIRE(m.usable(), m.message);
  BOOST_TEST(std::abs(m.length - r.length) <= 1e-6 * r.length);
  // The discrete geodesic's start velocity does not run into the singularity: no halving, the same geodesic.
  LogMapOptions discrete;
  discrete.fallback = false;
  discrete.start_halvings = 0;
  const LogMapResult dg = LogMap(metric, a, b, discrete);
  BOOST_TEST_REQUIRE(dg.usable(), dg.message);
  BOOST_TEST(dg.message.find("from the discrete geodesic") != std::string::npos, dg.message);
  BOOST_TEST(std::abs(dg.length - r.length) <= 1e-6 * r.length);
}

BOOST_AUTO_TEST_CASE(options_are_validated_naming_the_option) {
  OptionsDatabase db;
  db.ParseTokens({"-bvp_type", "multiple_shooting", "-bvp_segments", "5", "-bvp_tol", "1e-7", "-bvp_fallback",
                  "false", "-bvp_ode_rtol", "1e-9", "-bvp_verify_ode_rtol", "1e-12"},
                 "");
  LogMapOptions o;
  o.SetFromOptions(db);
  db.CheckAllUsed();
  BOOST_TEST(o.type == "multiple_shooting");
  BOOST_TEST(o.segments == 5);
  BOOST_TEST(o.tol == 1e-7);
  BOOST_TEST(!o.fallback);
  BOOST_TEST(o.shots.ode.rtol == 1e-9);
  BOOST_TEST(o.verify.ode.rtol == 1e-12);

  auto parse = [](std::vector<std::string> tokens) {
    OptionsDatabase d;
    d.ParseTokens(tokens, "");
    LogMapOptions x;
    x.SetFromOptions(d);
  };
  ExpectInputError([&] { parse({"-bvp_type", "colocation"}); },
                   {"bvp_type", "shooting", "multiple_shooting", "collocation"});
  ExpectInputError([&] { parse({"-bvp_collocation_tol", "0"}); }, {"bvp_collocation_tol"});
  ExpectInputError([&] { parse({"-bvp_collocation_intervals", "32", "-bvp_collocation_max_intervals", "16"}); },
                   {"bvp_collocation_max_intervals", "32"});
  ExpectInputError([&] { parse({"-bvp_segments", "1"}); }, {"bvp_segments"});
  // The shots need CVODES forward sensitivities: their -bvp_ode_type declares only adams and bdf.
  ExpectInputError([&] { parse({"-bvp_ode_type", "dopri5"}); }, {"-bvp_ode_type", "dopri5", "adams, bdf"});
  ExpectInputError([&] { parse({"-bvp_stop_factor", "2"}); }, {"-bvp_stop_factor", "2", "in (0, 1]"});
  ExpectInputError([&] { parse({"-bvp_stop_factor", "0"}); }, {"-bvp_stop_factor", "0", "in (0, 1]"});
  ExpectInputError([&] { parse({"-bvp_refine_iterations", "-1"}); }, {"bvp_refine_iterations"});
  ExpectInputError([&] { parse({"-bvp_start_halvings", "-2"}); }, {"bvp_start_halvings"});
  ExpectInputError([&] { parse({"-bvp_presolve_max_steps", "0"}); }, {"bvp_presolve_max_steps"});
  ExpectInputError([&] { parse({"-bvp_presolve_coarse_trust_radius", "0"}); }, {"bvp_presolve_coarse_trust_radius"});
  // Options the shots and the verification do not read are not declared under their prefixes: a typo, with the
  // closest declared option.
  for (const char* unread : {"-bvp_ode_monitor", "-bvp_verify_ode_monitor", "-bvp_ode_control_regularizers",
                             "-bvp_verify_ode_control_regularizers", "-bvp_ode_linear_solver"}) {
    OptionsDatabase d;
    d.ParseTokens({unread, "true"}, "");
    LogMapOptions x;
    x.SetFromOptions(d);
    ExpectInputError([&] { d.CheckAllUsed(); }, {std::string("unknown option ") + unread});
  }
  // Options set in code are checked against the same declared bounds, named with their prefixes.
  LogMapOptions in_code;
  in_code.verify.ode.rtol = 0;
  BOOST_TEST(in_code.Validate().find("-bvp_verify_ode_rtol: value 0 (set in code) violates the constraint > 0") !=
                 std::string::npos,
             in_code.Validate());
  in_code = LogMapOptions();
  in_code.stop_factor = 1.5;
  BOOST_TEST(in_code.Validate().find("-bvp_stop_factor: value 1.5 (set in code) violates the constraint in (0, 1]") !=
                 std::string::npos,
             in_code.Validate());

  const PullbackMetric metric = Sphere();
  InitialCurve bad = InitialCurve::Line(V2(0, 0), V2(1, 1));
  ExpectInputError([&] { LogMap(metric, V2(0, 0), V2(1, 0), LogMapOptions(), &bad); }, {"initial curve", "end"});
  bad.times = {0.0, 0.0};
  ExpectInputError([&] { LogMap(metric, V2(0, 0), V2(1, 1), LogMapOptions(), &bad); }, {"times"});
  bad.times = {0.0, 0.5, 0.5, 1.0};
  bad.points = {V2(0, 0), V2(0.5, 0.5), V2(0.5, 0.5), V2(1, 1)};
  ExpectInputError([&] { LogMap(metric, V2(0, 0), V2(1, 1), LogMapOptions(), &bad); }, {"increase"});
}

BOOST_AUTO_TEST_CASE(initial_curves_interpolate_positions_and_velocities) {
  InitialCurve c;
  c.times = {0.0, 0.25, 1.0};
  c.points = {V2(0, 0), V2(1, 0), V2(1, 3)};
  BOOST_TEST(c.Validate(V2(0, 0), V2(1, 3)).empty());
  BOOST_TEST((c.PointAt(0.125) - V2(0.5, 0)).norm() < 1e-15);
  BOOST_TEST((c.VelocityAt(0.0) - V2(4, 0)).norm() < 1e-15);
  BOOST_TEST((c.VelocityAt(0.25) - V2(0, 4)).norm() < 1e-15);
  BOOST_TEST((c.VelocityAt(1.0) - V2(0, 4)).norm() < 1e-15);
  BOOST_TEST((c.PointAt(1.0) - V2(1, 3)).norm() < 1e-15);
}

BOOST_AUTO_TEST_CASE(a_stagnating_iteration_stops_early_and_says_so) {
  // Nearly antipodal points from the straight line: single shooting creeps (its residual falls slowly for many
  // iterations) before it reaches the long arc. The stagnation test stops it and names its options; without it the
  // iteration runs on.
  const PullbackMetric metric = Sphere();
  const auto [a, b] = NearAntipodal(0.2);
  LogMapOptions o = At(1e-10, "shooting");
  o.init = "line";
  o.minimality_rtol = -1;
  const LogMapResult stopped = LogMap(metric, a, b, o);
  o.stagnation_iterations = 0;
  const LogMapResult unstopped = LogMap(metric, a, b, o);
  BOOST_TEST_MESSAGE("with the test: " << stopped.iterations << " iterations (" << stopped.message.substr(0, 200)
                                       << "); without: " << unstopped.iterations);
  BOOST_TEST(!stopped.usable());
  BOOST_TEST(stopped.message.find("stagnated") != std::string::npos, stopped.message);
  BOOST_TEST(stopped.message.find("-bvp_stagnation_iterations") != std::string::npos);
  BOOST_TEST(stopped.iterations < unstopped.iterations);
  BOOST_TEST(unstopped.message.find("stagnated") == std::string::npos);
  // A stalled iteration is a reason to move on, never a silent success.
  BOOST_TEST((stopped.status != GeodesicStatus::kSuccess));
}
