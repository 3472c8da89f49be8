#define BOOST_TEST_MODULE options
#include <boost/test/unit_test.hpp>

#include <cstdio>
#include <fstream>

#include "pushpull/errors.hpp"
#include "test_support.hpp"
#include "pushpull/options.hpp"
#include "pushpull/registry.hpp"

using namespace pushpull;
using pushpull::testing::ExpectInputError;

namespace {

struct OdeLikeOptions {
  double rtol = 1e-6;
  int max_order = 5;
  bool monitor = false;
  std::string type = "bdf";
  std::vector<double> times{0.5};
  void SetFromOptions(OptionsDatabase& db, const std::string& prefix) {
    db.Real(prefix, "ode_rtol", rtol, "relative tolerance", "Ode::rtol", RealBounds::Positive());
    db.Int(prefix, "ode_max_order", max_order, "max order", "Ode::max_order", {1, 5});
    db.Bool(prefix, "ode_monitor", monitor, "monitor", "Ode::monitor");
    db.Enum(prefix, "ode_type", type, "method", "Ode::type", {"bdf", "adams"});
    db.RealList(prefix, "save_times", times, "times", "Ode::times", RealBounds::Closed(0, 1));
  }
};

std::string WriteTempFile(const std::string& text) {
  static int counter = 0;
  const std::string path = "options_test_" + std::to_string(counter++) + ".txt";
  std::ofstream(path) << text;
  return path;
}
}  // namespace

BOOST_AUTO_TEST_CASE(defaults_stay_without_values) {
  OptionsDatabase db;
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  BOOST_TEST(o.rtol == 1e-6);
  BOOST_TEST(o.type == "bdf");
  db.CheckAllUsed();
  BOOST_TEST(db.Declarations().size() == 5u);
  BOOST_TEST(db.Declarations()[0].source == OptionSource::kDefault);
}

BOOST_AUTO_TEST_CASE(command_line_values_parse_and_flags_stand_alone) {
  OptionsDatabase db;
  db.ParseTokens({"-ode_rtol", "1e-9", "-ode_monitor", "-ode_type", "adams", "-save_times", "0.1,0.5,1"}, "");
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  BOOST_TEST(o.rtol == 1e-9);
  BOOST_TEST(o.monitor);
  BOOST_TEST(o.type == "adams");
  BOOST_TEST(o.times.size() == 3u);
  BOOST_TEST(o.times[2] == 1.0);
  BOOST_TEST(db.Declarations()[0].source == OptionSource::kCommandLine);
  db.CheckAllUsed();
}

BOOST_AUTO_TEST_CASE(bool_false_turns_off_and_negative_numbers_are_values) {
  OptionsDatabase db;
  db.ParseTokens({"-ode_monitor", "false", "-x", "-2.5"}, "");
  bool monitor = true;
  double x = 0;
  db.Bool("", "ode_monitor", monitor, "", "");
  db.Real("", "x", x, "", "");
  BOOST_TEST(!monitor);
  BOOST_TEST(x == -2.5);
}

BOOST_AUTO_TEST_CASE(precedence_command_line_over_environment_over_file) {
  const std::string file = WriteTempFile("# a comment\n-ode_rtol 1e-3   # trailing\n-ode_max_order 2\n-ode_type adams\n");
  OptionsDatabase db;
  db.ParseTokens({"-options_file", file, "-ode_rtol", "1e-8"}, "-ode_rtol 1e-5 -ode_max_order 3");
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  BOOST_TEST(o.rtol == 1e-8);      // command line wins
  BOOST_TEST(o.max_order == 3);    // environment beats file
  BOOST_TEST(o.type == "adams");   // file beats default
  const auto& d = db.Declarations();
  BOOST_TEST(d[0].source == OptionSource::kCommandLine);
  BOOST_TEST(d[1].source == OptionSource::kEnvironment);
  BOOST_TEST(d[3].source == OptionSource::kFile);
  db.CheckAllUsed();
  const std::string view = db.View();
  BOOST_TEST(view.find("-ode_rtol 1e-08") != std::string::npos);
  BOOST_TEST(view.find("environment") != std::string::npos);
  std::remove(file.c_str());
}

BOOST_AUTO_TEST_CASE(options_file_named_in_environment) {
  const std::string file = WriteTempFile("-ode_max_order 4\n");
  OptionsDatabase db;
  db.ParseTokens({}, "-options_file " + file);
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  BOOST_TEST(o.max_order == 4);
  db.CheckAllUsed();
  std::remove(file.c_str());
}

BOOST_AUTO_TEST_CASE(code_set_values_override_everything) {
  OptionsDatabase db;
  db.ParseTokens({"-ode_rtol", "1e-8"}, "");
  db.Set("-ode_rtol", "1e-10");
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  BOOST_TEST(o.rtol == 1e-10);
  BOOST_TEST(db.Declarations()[0].source == OptionSource::kCode);
}

BOOST_AUTO_TEST_CASE(prefixes_reach_nested_objects) {
  OptionsDatabase db;
  db.ParseTokens({"-geo_ode_rtol", "1e-7", "-geo_shoot_ode_rtol", "1e-11"}, "");
  OdeLikeOptions outer, inner, plain;
  outer.SetFromOptions(db, "geo_");
  inner.SetFromOptions(db, "geo_shoot_");
  plain.SetFromOptions(db, "");
  BOOST_TEST(outer.rtol == 1e-7);
  BOOST_TEST(inner.rtol == 1e-11);
  BOOST_TEST(plain.rtol == 1e-6);
  db.CheckAllUsed();
}

BOOST_AUTO_TEST_CASE(typos_are_refused_with_a_suggestion) {
  OptionsDatabase db;
  db.ParseTokens({"-ode_rtoll", "1e-3"}, "");
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  ExpectInputError([&] { db.CheckAllUsed(); }, {"unknown option -ode_rtoll", "did you mean -ode_rtol?"});
}

BOOST_AUTO_TEST_CASE(typos_far_from_everything_get_no_suggestion) {
  OptionsDatabase db;
  db.ParseTokens({"-completely_different", "1"}, "");
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  ExpectInputError([&] { db.CheckAllUsed(); }, {"unknown option -completely_different", "-help"});
}

BOOST_AUTO_TEST_CASE(bad_values_name_option_value_and_constraint) {
  {
    OptionsDatabase db;
    db.ParseTokens({"-ode_rtol", "-1"}, "");
    OdeLikeOptions o;
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-ode_rtol", "-1", "> 0"});
  }
  {
    OptionsDatabase db;
    db.ParseTokens({"-ode_rtol", "abc"}, "");
    OdeLikeOptions o;
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-ode_rtol", "'abc'", "not a real number"});
  }
  {
    OptionsDatabase db;
    db.ParseTokens({"-ode_max_order", "9"}, "");
    OdeLikeOptions o;
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-ode_max_order", "9", "in [1, 5]"});
  }
  {
    OptionsDatabase db;
    db.ParseTokens({"-ode_max_order", "2.5"}, "");
    OdeLikeOptions o;
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-ode_max_order", "not an integer"});
  }
  {
    OptionsDatabase db;
    db.ParseTokens({"-ode_type", "rk4"}, "");
    OdeLikeOptions o;
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-ode_type", "'rk4'", "bdf, adams"});
  }
  {
    OptionsDatabase db;
    db.ParseTokens({"-ode_monitor", "maybe"}, "");
    OdeLikeOptions o;
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-ode_monitor", "'maybe'", "not a boolean"});
  }
  {
    OptionsDatabase db;
    db.ParseTokens({"-save_times", "0.5,2"}, "");
    OdeLikeOptions o;
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-save_times", "2", "in [0, 1]"});
  }
}

BOOST_AUTO_TEST_CASE(values_set_in_code_are_checked_against_the_declared_bounds) {
  // The declaration checks the value in force wherever it came from: a field set in code outside its bound is
  // refused like a value from the command line, naming the option with its prefix, the value and the bound.
  {
    OptionsDatabase db;
    OdeLikeOptions o;
    o.rtol = 0;
    ExpectInputError([&] { o.SetFromOptions(db, "geo_"); }, {"-geo_ode_rtol", "value 0 (set in code)", "> 0"});
  }
  {
    OptionsDatabase db;
    OdeLikeOptions o;
    o.type = "rk4";
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-ode_type", "'rk4' (set in code)", "bdf, adams"});
  }
  {
    OptionsDatabase db;
    OdeLikeOptions o;
    o.times = {0.5, -1};
    ExpectInputError([&] { o.SetFromOptions(db, ""); }, {"-save_times", "-1 (set in code)", "in [0, 1]"});
  }
}

BOOST_AUTO_TEST_CASE(a_checker_checks_the_values_in_force_and_records_nothing) {
  // CheckDeclared runs the declarations on a Checker: the Validate() of options set in code, with the bounds of
  // the declarations (stated once).
  OdeLikeOptions o;
  BOOST_TEST(CheckDeclared([&](OptionsDatabase& db) { o.SetFromOptions(db, "bvp_"); }).empty());
  o.max_order = 7;
  const std::string why = CheckDeclared([&](OptionsDatabase& db) { o.SetFromOptions(db, "bvp_"); });
  BOOST_TEST(why.find("-bvp_ode_max_order: value 7 (set in code) violates the constraint in [1, 5]") !=
                 std::string::npos,
             why);
  OptionsDatabase checker = OptionsDatabase::Checker();
  BOOST_TEST(checker.checking());
  o.max_order = 3;
  o.SetFromOptions(checker, "");
  BOOST_TEST(checker.Declarations().empty());
  BOOST_TEST(o.max_order == 3);
}

BOOST_AUTO_TEST_CASE(int_fields_print_the_declared_bound_and_refuse_what_int_cannot_hold) {
  OptionsDatabase db;
  int n = 1;
  db.Int("", "n", n, "", "", IntBounds::AtLeast(0));
  BOOST_TEST(db.Declarations().back().constraint == ">= 0");
  OptionsDatabase big;
  big.Set("n", "3000000000");
  ExpectInputError([&] { big.Int("", "n", n, "", "", IntBounds::AtLeast(0)); },
                   {"-n", "3000000000", "in [-2147483648, 2147483647]"});
}

BOOST_AUTO_TEST_CASE(file_errors_name_file_and_line) {
  ExpectInputError([] { OptionsDatabase().LoadFile("no_such_options_file.txt"); },
                   {"no_such_options_file.txt", "cannot be opened"});
  const std::string file = WriteTempFile("-a 1\nstray\n");
  ExpectInputError([&] { OptionsDatabase().LoadFile(file); }, {file, "line 2", "stray"});
  std::remove(file.c_str());
}

BOOST_AUTO_TEST_CASE(help_lists_value_default_and_setter) {
  OptionsDatabase db;
  db.ParseTokens({"-ode_rtol", "1e-9"}, "");
  db.SetSection("ODE integrator");
  OdeLikeOptions o;
  o.SetFromOptions(db, "");
  const std::string help = db.Help();
  BOOST_TEST(help.find("ODE integrator:") != std::string::npos);
  BOOST_TEST(help.find("-ode_rtol <real> = 1e-09") != std::string::npos);
  BOOST_TEST(help.find("default 1e-06") != std::string::npos);
  BOOST_TEST(help.find("[Ode::rtol]") != std::string::npos);
}

namespace {
struct Shape {
  virtual ~Shape() = default;
  virtual int Sides() const = 0;
};
struct Triangle : Shape {
  int Sides() const override { return 3; }
};
struct Square : Shape {
  int Sides() const override { return 4; }
};
}  // namespace

BOOST_AUTO_TEST_CASE(registries_create_by_name_and_list_valid_names) {
  Registry<Shape> registry("shape_type");
  registry.Register("triangle", "three sides", [] { return std::make_unique<Triangle>(); });
  BOOST_TEST(registry.Create("triangle")->Sides() == 3);
  ExpectInputError([&] { registry.Create("square"); }, {"unknown -shape_type 'square'", "triangle"});
  // Research code registers its own type.
  registry.Register("square", "four sides", [] { return std::make_unique<Square>(); });
  BOOST_TEST(registry.Create("square")->Sides() == 4);
  BOOST_TEST(registry.Names().size() == 2u);
  // An enum option built from the registry accepts the new type.
  OptionsDatabase db;
  db.ParseTokens({"-shape_type", "square"}, "");
  std::string type = "triangle";
  db.Enum("", "shape_type", type, "shape", "", registry.Names());
  BOOST_TEST(type == "square");
}

BOOST_AUTO_TEST_CASE(positional_arguments_are_collected_or_refused) {
  OptionsDatabase db;
  std::vector<std::string> positional;
  db.ParseTokens({"file.h5", "-ode_rtol", "1e-3"}, "", &positional);
  BOOST_TEST(positional.size() == 1u);
  BOOST_TEST(positional[0] == "file.h5");
  OptionsDatabase strict;
  ExpectInputError([&] { strict.ParseTokens({"stray"}, ""); }, {"unexpected argument 'stray'"});
  ExpectInputError([&] { strict.ParseTokens({}, "-a 1 stray"); }, {"PUSHPULL_OPTIONS", "stray"});
}
