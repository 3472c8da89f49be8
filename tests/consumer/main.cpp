// Uses the installed library the way research code does: an options database set from code and argv, a registry.
#include <iostream>

#include <pushpull/options.hpp>
#include <pushpull/registry.hpp>
#include <pushpull/version.hpp>

struct Greeter {
  virtual ~Greeter() = default;
  virtual double Value() const = 0;
};
struct Two : Greeter {
  double Value() const override { return 2.0; }
};

int main(int argc, char** argv) {
  pushpull::OptionsDatabase db;
  db.ParseCommandLine(argc, argv);
  db.Set("my_rtol", "1e-9");
  double rtol = 1e-6;
  db.Real("my_", "rtol", rtol, "tolerance", "main::rtol", pushpull::RealBounds::Positive());
  db.CheckAllUsed();
  pushpull::Registry<Greeter> registry("greeter_type");
  registry.Register("two", "returns two", [] { return std::make_unique<Two>(); });
  const double v = registry.Create("two")->Value();
  std::cout << "pushpull " << pushpull::Version() << " rtol " << rtol << " value " << v << "\n";
  if (rtol != 1e-9 || v != 2.0) return 1;
  std::cout << "consumer ok\n";
  return 0;
}
