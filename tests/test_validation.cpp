#define BOOST_TEST_MODULE validation
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <sstream>

#include "cli/commands.hpp"
#include "pushpull/io.hpp"
#include "validation.hpp"

using namespace pushpull;
using namespace pushpull::validation;

namespace {

// Wraps a field and corrupts one of its outputs.
class CorruptedField : public VectorField {
 public:
  enum class Defect { kDivergenceSign, kVelocityScale };
  CorruptedField(std::unique_ptr<VectorField> inner, Defect defect) : inner_(std::move(inner)), defect_(defect) {}
  int dim() const override { return inner_->dim(); }
  std::string description() const override { return "corrupted " + inner_->description(); }
  void Evaluate(double t, const BlockRef& x, RowMatrixXd& v) const override {
    inner_->Evaluate(t, x, v);
    if (defect_ == Defect::kVelocityScale) v *= 1.001;
  }
  void EvaluateJvp(double t, const BlockRef& x, const BlockRef& dx, RowMatrixXd& v, RowMatrixXd& jv) const override {
    inner_->EvaluateJvp(t, x, dx, v, jv);
    if (defect_ == Defect::kVelocityScale) v *= 1.001;
    if (defect_ == Defect::kDivergenceSign) jv = -jv;  // every derivative, and so the divergence, has the wrong sign
  }
  void EvaluateDivergence(double t, const BlockRef& x, RowMatrixXd& v, Eigen::VectorXd& div) const override {
    inner_->EvaluateDivergence(t, x, v, div);
    if (defect_ == Defect::kVelocityScale) v *= 1.001;
    if (defect_ == Defect::kDivergenceSign) div = -div;
  }
  void EvaluateJacobian(double t, const BlockRef& x, RowMatrixXd& v, RowMatrixXd& jac) const override {
    inner_->EvaluateJacobian(t, x, v, jac);
    if (defect_ == Defect::kVelocityScale) v *= 1.001;
  }

 private:
  std::unique_ptr<VectorField> inner_;
  Defect defect_;
};

Settings Small() {
  Settings s;
  s.methods = {"bdf", "dopri5"};
  s.tolerances = {1e-5, 1e-8};
  s.solver.threads = 1;
  return s;
}

int FailedChecks(const CaseReport& r, const std::string& name_part) {
  int n = 0;
  for (const auto& c : r.checks) {
    if (!c.passed && c.name.find(name_part) != std::string::npos) ++n;
  }
  return n;
}

}  // namespace

BOOST_AUTO_TEST_CASE(every_case_passes_with_the_correct_fields) {
  for (const auto& name : CaseRegistry().Names()) {
    const CaseReport r = CaseRegistry().Create(name)->Run(Small());
    for (const auto& c : r.checks) {
      BOOST_TEST(c.passed, name << " " << c.method << " " << c.name << ": " << c.value << " " << c.relation << " "
                                << c.threshold << " (" << c.detail << ")");
    }
    BOOST_TEST(r.checks.size() > 5u, name);
    BOOST_TEST(r.passed(), name);
  }
}

BOOST_AUTO_TEST_CASE(a_sign_error_in_the_divergence_is_caught) {
  Settings s = Small();
  s.wrap_field = [](std::unique_ptr<VectorField> f) -> std::unique_ptr<VectorField> {
    return std::make_unique<CorruptedField>(std::move(f), CorruptedField::Defect::kDivergenceSign);
  };
  for (const std::string name : {"G1", "G5"}) {
    const CaseReport r = CaseRegistry().Create(name)->Run(s);
    BOOST_TEST(!r.passed(), name);
    BOOST_TEST(FailedChecks(r, "log-density error") > 0, name);
  }
}

BOOST_AUTO_TEST_CASE(a_slightly_wrong_velocity_is_caught) {
  Settings s = Small();
  s.wrap_field = [](std::unique_ptr<VectorField> f) -> std::unique_ptr<VectorField> {
    return std::make_unique<CorruptedField>(std::move(f), CorruptedField::Defect::kVelocityScale);
  };
  const CaseReport r = CaseRegistry().Create("G2")->Run(s);
  BOOST_TEST(!r.passed());
  BOOST_TEST(FailedChecks(r, "end-point error") > 0);
}

BOOST_AUTO_TEST_CASE(validate_command_writes_report_groups_and_html) {
  const std::string out = "validation_test_report.h5", html = "validation_test_report.html";
  std::filesystem::remove(out);
  std::filesystem::remove(html);
  std::ostringstream o, e;
  const int code = cli::Main({"pushpull", "validate", "-validate_cases", "G1,G6", "-validate_methods", "bdf,dopri5",
                              "-validate_tols", "1e-5,1e-8", "-output", out, "-report_html", html},
                             o, e);
  BOOST_TEST(code == 0, o.str() << e.str());
  BOOST_TEST(o.str().find("verdict: PASS") != std::string::npos, o.str());
  // One table row per case x method.
  bool row_found = false;
  std::istringstream lines(o.str());
  for (std::string line; std::getline(lines, line);) {
    row_found = row_found || (line.rfind("G1 ", 0) == 0 && line.find(" bdf ") != std::string::npos);
  }
  BOOST_TEST(row_found, o.str());
  ArraySpec vector;
  vector.ranks = {1};
  BOOST_TEST(ReadArray(DatasetName::Parse(out + ":/G1/max_error_logp"), vector).size() > 0u);
  BOOST_TEST(ReadArray(DatasetName::Parse(out + ":/G1/nfe_per_sample"), vector).size() > 0u);
  BOOST_TEST(ReadArray(DatasetName::Parse(out + ":/G6/checks/value"), vector).size() > 0u);
  BOOST_TEST(ReadRootStringAttribute(out, "verdict") == "pass");
  BOOST_TEST(std::filesystem::exists(html));
  std::ostringstream bad_out, bad_err;
  BOOST_TEST(cli::Main({"pushpull", "validate", "-validate_cases", "G9"}, bad_out, bad_err) == 2);
  BOOST_TEST(bad_err.str().find("G1") != std::string::npos);
}

// ---- Geodesic cases (validation/geodesic_cases.cpp) ------------------------------------------------------------

#include "geodesic_cases.hpp"
#include "pushpull/metric.hpp"

namespace {

// Wraps a metric and scales its geodesic acceleration (and its derivative) by 1.01: a slightly wrong metric.
class ScaledAccelerationMetric : public Metric {
 public:
  explicit ScaledAccelerationMetric(std::shared_ptr<const Metric> inner) : inner_(std::move(inner)) {}
  int dim() const override { return inner_->dim(); }
  Eigen::MatrixXd Evaluate(const Eigen::VectorXd& z) const override { return inner_->Evaluate(z); }
  bool Acceleration(const Eigen::VectorXd& z, const Eigen::VectorXd& u, Eigen::VectorXd* acc,
                    std::string* why) const override {
    if (!inner_->Acceleration(z, u, acc, why)) return false;
    *acc *= 1.01;
    return true;
  }
  bool AccelerationTangent(const Eigen::VectorXd& z, const Eigen::VectorXd& u, const Eigen::VectorXd& dz,
                           const Eigen::VectorXd& du, Eigen::VectorXd* acc, Eigen::VectorXd* dacc,
                           std::string* why) const override {
    if (!inner_->AccelerationTangent(z, u, dz, du, acc, dacc, why)) return false;
    *acc *= 1.01;
    *dacc *= 1.01;
    return true;
  }
  bool HasAccelerationTangent() const override { return inner_->HasAccelerationTangent(); }
  bool InDomain(const Eigen::VectorXd& z, std::string* why) const override { return inner_->InDomain(z, why); }

 private:
  std::shared_ptr<const Metric> inner_;
};

MetricWrapper ScaleAcceleration() {
  return [](std::shared_ptr<const Metric> m) -> std::shared_ptr<const Metric> {
    return std::make_shared<ScaledAccelerationMetric>(std::move(m));
  };
}

}  // namespace

BOOST_AUTO_TEST_CASE(geodesic_cases_are_registered_and_pass) {
  for (const auto& name : GeodesicCaseNames()) {
    BOOST_TEST(CaseRegistry().Has(name), name);
    const CaseReport r = CaseRegistry().Create(name)->Run(Settings());
    for (const auto& c : r.checks) {
      BOOST_TEST(c.passed, name << " " << c.method << " " << c.name << ": " << c.value << " " << c.relation << " "
                                << c.threshold << " (" << c.detail << ")");
    }
    BOOST_TEST(r.checks.size() > 5u, name);
    BOOST_TEST(!r.sweep.empty(), name);
    BOOST_TEST(r.passed(), name);
    // Geodesic rows carry geodesic metrics by name, never the flow cases' log-density fields.
    int log_map_rows = 0;
    for (const auto& row : r.sweep) {
      BOOST_TEST(!row.Has("max_error_logp"), name << " " << row.method);
      BOOST_TEST(!row.Has("nfe_per_sample"), name << " " << row.method);
      if (row.kind == "log-map") {
        ++log_map_rows;
        BOOST_TEST(row.error_metric == "max_rel_distance_error", name << " " << row.method);
        BOOST_TEST(row.Has("iterations_per_pair"), name << " " << row.method);
      } else {
        BOOST_TEST(row.kind == "exp-map", name << " " << row.method);
        BOOST_TEST(row.Has("max_rel_speed_drift"), name << " " << row.method);
      }
    }
    BOOST_TEST(log_map_rows > 0, name);
  }
  BOOST_CHECK_THROW(MakeGeodesicCase("GEO-nowhere"), InputError);
}

BOOST_AUTO_TEST_CASE(sweep_rows_take_only_known_metric_names) {
  SweepRow row;
  row.method = "m";
  row.Set("max_error_logp", 2.0);
  row.Set("max_error_logp", 3.0);  // replaces
  BOOST_TEST(row.metrics.size() == 1u);
  BOOST_TEST(row.Get("max_error_logp") == 3.0);
  BOOST_CHECK_THROW(row.Set("max_eror_logp", 1.0), std::invalid_argument);
  BOOST_CHECK_THROW(row.Get("nfe_per_sample"), std::out_of_range);
  for (const auto& info : KnownMetrics()) {
    BOOST_TEST(!info.title.empty(), info.name);
    BOOST_TEST(!info.description.empty(), info.name);
    BOOST_TEST(&FindMetric(info.name) == &info);
  }
}

BOOST_AUTO_TEST_CASE(a_slightly_wrong_geodesic_acceleration_is_caught) {
  // Scaling the acceleration by 1.01 bends every geodesic of a curved metric: distances and end points go wrong.
  for (const std::string name : {"GEO-sphere", "GEO-poincare", "GEO-torus"}) {
    const CaseReport r = MakeGeodesicCase(name, ScaleAcceleration())->Run(Settings());
    BOOST_TEST(!r.passed(), name);
    BOOST_TEST(FailedChecks(r, "distance error") + FailedChecks(r, "exp-map end point") +
                       FailedChecks(r, "Clairaut") > 0,
               name);
  }
  const CaseReport h = MakeGeodesicCase("GEO-height-field", ScaleAcceleration())->Run(Settings());
  BOOST_TEST(!h.passed());
  BOOST_TEST(FailedChecks(h, "exact height-field equation") == 2);
  // The unwrapped case object built the same way passes.
  BOOST_TEST(MakeGeodesicCase("GEO-sphere")->Run(Settings()).passed());
}
