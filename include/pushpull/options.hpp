// The runtime options database, in the manner of PETSc's PetscOptions.
//
// Values arrive as `-name value` pairs from three places and are applied in this order, each overriding the one
// before: an options file (`-options_file FILE`, one `-name value` per line, `#` starts a comment), the
// environment variable PUSHPULL_OPTIONS, and the command line. `OptionsDatabase::Set` (for programs that embed
// the library) overrides all three. A boolean option may stand alone (`-ode_monitor` means true).
//
// Objects declare their options once, in a `SetFromOptions(db, prefix)` method: each declaration call names the
// option, binds it to the C++ field it sets (whose current value is the default), states its bounds or choices,
// and gives the help text. If the database holds a value for the option, the call parses and checks it and
// overwrites the field. The declarations drive `-help`, `-options_view`, the provenance written into output files
// and the generated reference page docs/options.md.
//
// A bound is stated once, in the declaration: the declaration checks the value in force against it (the value from
// the database, or the field's value set in code), `-help` and docs/options.md print it, and `Validate()`
// functions check options set in code by running their declarations on a `Checker()` database (`CheckDeclared`),
// adding only the constraints between options. An error names the option with its prefix, the value and the bound.
//
// A value nothing declared is a typo: `CheckAllUsed()` refuses it, naming the closest declared option. An option
// is declared only where something reads it (an object that reuses another's options under a prefix declares the
// subset its code reads).
#pragma once

#include <cstdint>
#include <functional>
#include <iosfwd>
#include <limits>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace pushpull {

enum class OptionType { kReal, kInt, kBool, kString, kEnum, kRealList };
enum class OptionSource { kDefault, kFile, kEnvironment, kCommandLine, kCode };

const char* ToString(OptionType type);
const char* ToString(OptionSource source);
std::ostream& operator<<(std::ostream& os, OptionType type);
std::ostream& operator<<(std::ostream& os, OptionSource source);

// Bounds of a real option (or of each entry of a list of reals). Open bounds exclude the end point.
struct RealBounds {
  double lower = -std::numeric_limits<double>::infinity();
  double upper = std::numeric_limits<double>::infinity();
  bool lower_open = false;
  bool upper_open = false;

  static RealBounds Positive() { return {0.0, std::numeric_limits<double>::infinity(), true, false}; }
  static RealBounds NonNegative() { return {0.0, std::numeric_limits<double>::infinity(), false, false}; }
  static RealBounds Closed(double lo, double hi) { return {lo, hi, false, false}; }
  std::string Describe() const;  // e.g. "> 0", "in [0, 1]"; empty when unbounded
  bool Contains(double v) const;
};

struct IntBounds {
  std::int64_t lower = std::numeric_limits<std::int64_t>::min();
  std::int64_t upper = std::numeric_limits<std::int64_t>::max();
  static IntBounds AtLeast(std::int64_t lo) { return {lo, std::numeric_limits<std::int64_t>::max()}; }
  std::string Describe() const;
};

// The record one declaration leaves behind.
struct OptionDeclaration {
  std::string name;          // full name with prefix, without the leading '-'
  OptionType type = OptionType::kString;
  std::string help;
  std::string setter;        // the C++ field or setter the option maps to, e.g. "OdeOptions::rtol"
  std::string section;       // who declared it, e.g. "ODE integrator"
  std::string constraint;    // e.g. "> 0", "one of: bdf, adams"
  std::string default_text;  // the value in code before the database was applied
  std::string value_text;    // the value in force
  OptionSource source = OptionSource::kDefault;
};

class OptionsDatabase {
 public:
  OptionsDatabase() = default;
  // A database that only checks: it holds no values and records no declarations; each declaration checks the
  // field's value in force against its bounds or choices (InputError naming the option, the value and the bound).
  static OptionsDatabase Checker();
  bool checking() const { return checking_; }

  // --- Filling the database --------------------------------------------------------------------------------
  // Parses argv[first..argc). `-options_file FILE` (on the command line or in PUSHPULL_OPTIONS) is loaded first,
  // then PUSHPULL_OPTIONS, then the command line. Tokens that are neither an option nor an option's value are
  // appended to *positional (or refused when positional is null). Throws InputError.
  void ParseCommandLine(int argc, const char* const* argv, int first = 1,
                        std::vector<std::string>* positional = nullptr,
                        const char* environment_variable = "PUSHPULL_OPTIONS");
  // Same, from a token list; `environment` is the text of the environment variable (may be empty).
  void ParseTokens(const std::vector<std::string>& tokens, const std::string& environment,
                   std::vector<std::string>* positional = nullptr);
  // Loads one options file. Throws InputError naming the file (and line) on failure.
  void LoadFile(const std::string& path);
  // Sets a value from code; overrides every other source. `name` may carry a leading '-'.
  void Set(std::string_view name, std::string value, OptionSource source = OptionSource::kCode);
  bool HasValue(std::string_view name) const;
  // The raw text given for `name` (empty when none).
  std::string RawValue(std::string_view name) const;

  // --- Declaring options (PetscOptionsReal and friends) -----------------------------------------------------
  // `section` labels the declaring object in -help; call SetSection before a group of declarations.
  void SetSection(std::string section) { section_ = std::move(section); }
  void Real(std::string_view prefix, std::string_view name, double& value, std::string_view help,
            std::string_view setter, RealBounds bounds = {});
  void Int(std::string_view prefix, std::string_view name, std::int64_t& value, std::string_view help,
           std::string_view setter, IntBounds bounds = {});
  void Int(std::string_view prefix, std::string_view name, int& value, std::string_view help,
           std::string_view setter, IntBounds bounds = {});
  void Bool(std::string_view prefix, std::string_view name, bool& value, std::string_view help,
            std::string_view setter);
  void String(std::string_view prefix, std::string_view name, std::string& value, std::string_view help,
              std::string_view setter);
  void Enum(std::string_view prefix, std::string_view name, std::string& value, std::string_view help,
            std::string_view setter, const std::vector<std::string>& choices);
  void RealList(std::string_view prefix, std::string_view name, std::vector<double>& value,
                std::string_view help, std::string_view setter, RealBounds each = {});

  // --- After the declarations ------------------------------------------------------------------------------
  // Throws InputError for the first value no declaration used: "unknown option -ode_rtoll; did you mean
  // -ode_rtol?". Call it after every object has been configured and before any work starts.
  void CheckAllUsed() const;
  const std::vector<OptionDeclaration>& Declarations() const { return declarations_; }
  // Options in force with their values and sources, one per line (`-options_view`).
  std::string View() const;
  // -help text: each option with its current value, default, constraint, setter and help.
  std::string Help() const;
  // The closest declared name to `name` by edit distance (empty if nothing is close).
  std::string Suggest(std::string_view name) const;

 private:
  struct Entry {
    std::string value;
    OptionSource source = OptionSource::kDefault;
    mutable bool used = false;
  };
  const Entry* Lookup(const std::string& full_name) const;
  void DeclareInt(std::string_view prefix, std::string_view name, std::int64_t& value, std::string_view help,
                  std::string_view setter, IntBounds bounds, IntBounds storable);
  OptionDeclaration& Declare(std::string_view prefix, std::string_view name, OptionType type,
                             std::string_view help, std::string_view setter, std::string constraint,
                             std::string default_text);
  void ParseTokenList(const std::vector<std::string>& tokens, OptionSource source,
                      std::vector<std::string>* positional, const std::string& where);

  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<OptionDeclaration> declarations_;
  std::map<std::string, std::size_t, std::less<>> declaration_index_;
  std::string section_;
  bool checking_ = false;
};

// Runs `declare` (a SetFromOptions call on a copy of the options) on a Checker() database: "" when every value
// satisfies its declared bounds and the cross-option constraints SetFromOptions states, else the InputError text.
std::string CheckDeclared(const std::function<void(OptionsDatabase&)>& declare);

// Text form of a real as the options database prints it (shortest round-trip representation).
std::string FormatReal(double v);

}  // namespace pushpull
