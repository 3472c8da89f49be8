// `pushpull check-field -model M.h5`: checks the derivatives of a velocity network against finite differences.
#include <iostream>

#include "cli/commands.hpp"
#include "pushpull/errors.hpp"
#include "pushpull/field.hpp"
#include "pushpull/field_check.hpp"
#include "pushpull/mlp.hpp"

namespace pushpull::cli {
namespace {

struct CheckFieldOptions {
  std::string model;
  std::string group = "/velocity";
  int points = 8;
  double step = 1e-6;
  double tolerance = 1e-6;
  std::int64_t seed = 1;

  void SetFromOptions(OptionsDatabase& db) {
    db.SetSection("Field derivative check (pushpull check-field)");
    db.String("", "model", model, "Model file (HDF5, schema pushpull-mlp) holding the velocity network (required)",
              "CheckFieldOptions::model");
    db.String("", "model_group", group, "Group of the velocity network in the model file",
              "CheckFieldOptions::group");
    db.Int("", "check_points", points, "Number of random points drawn from N(0, I)", "FieldCheckOptions::num_points",
           {1, 1000000});
    db.Real("", "check_step", step, "Relative central-difference step (times max(1, |x|))", "FieldCheckOptions::step",
            RealBounds{0.0, 1.0, true, false});
    db.Real("", "check_tol", tolerance, "Pass when every relative error is at most this",
            "FieldCheckOptions::tolerance", RealBounds::Positive());
    db.Int("", "seed", seed, "Seed of the random points and directions", "FieldCheckOptions::seed",
           IntBounds::AtLeast(0));
  }
};

class CheckFieldJob : public Job {
 public:
  CheckFieldJob(Context& ctx, CheckFieldOptions options) : ctx_(ctx), options_(std::move(options)) {}

  int Run() override {
    if (options_.model.empty()) {
      throw InputError("check-field needs -model FILE.h5 (a model file holding a pushpull-mlp velocity network)");
    }
    const Mlp mlp = ReadMlp(options_.model, options_.group, false);
    const auto field = MakeMlpField(mlp);
    FieldCheckOptions check;
    check.num_points = options_.points;
    check.step = options_.step;
    check.tolerance = options_.tolerance;
    check.seed = static_cast<unsigned long long>(options_.seed);
    const FieldCheckResult result = CheckFieldDerivatives(*field, check);
    ctx_.out << result.report;
    return result.passed ? kExitSuccess : kExitItemsFailed;
  }

 private:
  Context& ctx_;
  CheckFieldOptions options_;
};

}  // namespace

Command CheckFieldCommand() {
  return {"check-field", "check a velocity network's derivatives against finite differences",
          "pushpull check-field -model M.h5 [-model_group /velocity] [-check_points 8] [-check_step 1e-6] "
          "[-check_tol 1e-6] [-seed 1]",
          [](Context& ctx) -> std::unique_ptr<Job> {
            CheckFieldOptions options;
            options.SetFromOptions(ctx.db);
            return std::make_unique<CheckFieldJob>(ctx, options);
          }};
}

}  // namespace pushpull::cli
