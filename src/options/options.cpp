#include "pushpull/options.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>
#include <fstream>
#include <ostream>
#include <sstream>
#include <stdexcept>

#include "pushpull/errors.hpp"

namespace pushpull {
namespace {

bool IsOptionName(const std::string& token) {
  return token.size() >= 2 && token[0] == '-' &&
         (std::isalpha(static_cast<unsigned char>(token[1])) || token[1] == '_');
}

// Splits a line into tokens on white space; single or double quotes group words.
std::vector<std::string> Tokenize(const std::string& text, const std::string& where) {
  std::vector<std::string> tokens;
  std::string current;
  bool in_token = false;
  char quote = 0;
  for (char c : text) {
    if (quote) {
      if (c == quote) {
        quote = 0;
      } else {
        current += c;
      }
    } else if (c == '"' || c == '\'') {
      quote = c;
      in_token = true;
    } else if (std::isspace(static_cast<unsigned char>(c))) {
      if (in_token) tokens.push_back(current);
      current.clear();
      in_token = false;
    } else {
      current += c;
      in_token = true;
    }
  }
  if (quote) throw InputError(where + ": unterminated quote");
  if (in_token) tokens.push_back(current);
  return tokens;
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0u : 1u)});
      diagonal = up;
    }
  }
  return row[b.size()];
}

std::string Join(const std::vector<std::string>& items, const char* separator) {
  std::string out;
  for (std::size_t i = 0; i < items.size(); ++i) {
    if (i) out += separator;
    out += items[i];
  }
  return out;
}

std::string Trim(std::string s) {
  const auto first = s.find_first_not_of(" \t\r\n");
  if (first == std::string::npos) return {};
  const auto last = s.find_last_not_of(" \t\r\n");
  return s.substr(first, last - first + 1);
}

double ParseRealText(const std::string& option, const std::string& text) {
  const std::string t = Trim(text);
  double v = 0;
  const char* begin = t.data();
  const char* end = t.data() + t.size();
  auto [ptr, ec] = std::from_chars(begin, end, v);
  if (t.empty() || ec != std::errc() || ptr != end || std::isnan(v)) {
    throw InputError("option -" + option + ": '" + text + "' is not a real number");
  }
  return v;
}

}  // namespace

std::string FormatReal(double v) {
  char buffer[64];
  auto [ptr, ec] = std::to_chars(buffer, buffer + sizeof buffer, v);
  if (ec != std::errc()) return "?";
  return std::string(buffer, ptr);
}

const char* ToString(OptionType type) {
  switch (type) {
    case OptionType::kReal: return "real";
    case OptionType::kInt: return "int";
    case OptionType::kBool: return "bool";
    case OptionType::kString: return "string";
    case OptionType::kEnum: return "enum";
    case OptionType::kRealList: return "real list";
  }
  return "?";
}

const char* ToString(OptionSource source) {
  switch (source) {
    case OptionSource::kDefault: return "default";
    case OptionSource::kFile: return "file";
    case OptionSource::kEnvironment: return "environment";
    case OptionSource::kCommandLine: return "command line";
    case OptionSource::kCode: return "code";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, OptionType type) { return os << ToString(type); }
std::ostream& operator<<(std::ostream& os, OptionSource source) { return os << ToString(source); }

std::string RealBounds::Describe() const {
  const bool has_lower = std::isfinite(lower);
  const bool has_upper = std::isfinite(upper);
  if (has_lower && has_upper) {
    return std::string("in ") + (lower_open ? "(" : "[") + FormatReal(lower) + ", " + FormatReal(upper) +
           (upper_open ? ")" : "]");
  }
  if (has_lower) return std::string(lower_open ? "> " : ">= ") + FormatReal(lower);
  if (has_upper) return std::string(upper_open ? "< " : "<= ") + FormatReal(upper);
  return {};
}

bool RealBounds::Contains(double v) const {
  if (lower_open ? !(v > lower) : !(v >= lower)) return false;
  if (upper_open ? !(v < upper) : !(v <= upper)) return false;
  return true;
}

std::string IntBounds::Describe() const {
  const bool has_lower = lower != std::numeric_limits<std::int64_t>::min();
  const bool has_upper = upper != std::numeric_limits<std::int64_t>::max();
  if (has_lower && has_upper) return "in [" + std::to_string(lower) + ", " + std::to_string(upper) + "]";
  if (has_lower) return ">= " + std::to_string(lower);
  if (has_upper) return "<= " + std::to_string(upper);
  return {};
}

// ---------------------------------------------------------------------------------------------------------------
// Filling the database

void OptionsDatabase::ParseTokenList(const std::vector<std::string>& tokens, OptionSource source,
                                     std::vector<std::string>* positional, const std::string& where) {
  for (std::size_t i = 0; i < tokens.size(); ++i) {
    const std::string& token = tokens[i];
    if (IsOptionName(token)) {
      std::string value;
      if (i + 1 < tokens.size() && !IsOptionName(tokens[i + 1])) value = tokens[++i];
      Set(token, value, source);
    } else if (positional) {
      positional->push_back(token);
    } else {
      throw InputError(where + ": unexpected argument '" + token + "' (options are written -name value)");
    }
  }
}

void OptionsDatabase::ParseCommandLine(int argc, const char* const* argv, int first,
                                       std::vector<std::string>* positional,
                                       const char* environment_variable) {
  std::vector<std::string> tokens;
  for (int i = first; i < argc; ++i) tokens.emplace_back(argv[i]);
  const char* env = environment_variable ? std::getenv(environment_variable) : nullptr;
  ParseTokens(tokens, env ? env : "", positional);
}

void OptionsDatabase::ParseTokens(const std::vector<std::string>& tokens, const std::string& environment,
                                  std::vector<std::string>* positional) {
  // Parse both lists into scratch databases first so that options files are found wherever they are named.
  OptionsDatabase env_db;
  env_db.ParseTokenList(Tokenize(environment, "PUSHPULL_OPTIONS"), OptionSource::kEnvironment, nullptr,
                        "environment variable PUSHPULL_OPTIONS");
  OptionsDatabase cl_db;
  std::vector<std::string> cl_positional;
  cl_db.ParseTokenList(tokens, OptionSource::kCommandLine, &cl_positional, "command line");
  if (!positional && !cl_positional.empty()) {
    throw InputError("command line: unexpected argument '" + cl_positional.front() +
                     "' (options are written -name value)");
  }
  // Lowest precedence first: files (named in the environment, then on the command line), environment, command line.
  for (const OptionsDatabase* db : {&env_db, &cl_db}) {
    const std::string file = db->RawValue("options_file");
    if (!file.empty()) LoadFile(file);
  }
  for (const OptionsDatabase* db : {&env_db, &cl_db}) {
    for (const auto& [name, entry] : db->entries_) Set(name, entry.value, entry.source);
  }
  if (positional) positional->insert(positional->end(), cl_positional.begin(), cl_positional.end());
}

void OptionsDatabase::LoadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw InputError("options file '" + path + "': cannot be opened");
  std::string line;
  int line_number = 0;
  while (std::getline(in, line)) {
    ++line_number;
    const auto hash = line.find('#');
    if (hash != std::string::npos) line.erase(hash);
    const std::string where = "options file '" + path + "' line " + std::to_string(line_number);
    ParseTokenList(Tokenize(line, where), OptionSource::kFile, nullptr, where);
  }
  // The file itself counts as used: the database consumed it.
  Set("options_file", path, OptionSource::kFile);
  entries_.find("options_file")->second.used = true;
}

void OptionsDatabase::Set(std::string_view name, std::string value, OptionSource source) {
  if (!name.empty() && name.front() == '-') name.remove_prefix(1);
  if (name.empty()) throw InputError("options database: empty option name");
  auto [it, inserted] = entries_.try_emplace(std::string(name));
  it->second.value = std::move(value);
  it->second.source = source;
  if (name == "options_file") it->second.used = true;
}

bool OptionsDatabase::HasValue(std::string_view name) const {
  if (!name.empty() && name.front() == '-') name.remove_prefix(1);
  return entries_.find(name) != entries_.end();
}

std::string OptionsDatabase::RawValue(std::string_view name) const {
  if (!name.empty() && name.front() == '-') name.remove_prefix(1);
  auto it = entries_.find(name);
  return it == entries_.end() ? std::string() : it->second.value;
}

const OptionsDatabase::Entry* OptionsDatabase::Lookup(const std::string& full_name) const {
  auto it = entries_.find(full_name);
  if (it == entries_.end()) return nullptr;
  it->second.used = true;
  return &it->second;
}

// ---------------------------------------------------------------------------------------------------------------
// Declarations

OptionDeclaration& OptionsDatabase::Declare(std::string_view prefix, std::string_view name, OptionType type,
                                            std::string_view help, std::string_view setter,
                                            std::string constraint, std::string default_text) {
  std::string full = std::string(prefix) + std::string(name);
  auto found = declaration_index_.find(full);
  if (found != declaration_index_.end()) {
    OptionDeclaration& existing = declarations_[found->second];
    if (existing.type != type) {
      throw std::logic_error("option -" + full + " declared twice with different types");
    }
    return existing;
  }
  OptionDeclaration d;
  d.name = full;
  d.type = type;
  d.help = help;
  d.setter = setter;
  d.section = section_;
  d.constraint = std::move(constraint);
  d.default_text = default_text;
  d.value_text = std::move(default_text);
  declaration_index_.emplace(full, declarations_.size());
  declarations_.push_back(std::move(d));
  return declarations_.back();
}

namespace {

// The error of a value outside its declared bound; `value_text` as given, or as formatted from a value set in code.
[[noreturn]] void Violation(const std::string& full_name, const std::string& value_text, const std::string& bound,
                            bool from_code) {
  throw InputError("option -" + full_name + ": value " + value_text + (from_code ? " (set in code)" : "") +
                   " violates the constraint " + bound);
}

std::string FormatList(const std::vector<double>& list) {
  std::string s;
  for (std::size_t i = 0; i < list.size(); ++i) {
    if (i) s += ",";
    s += FormatReal(list[i]);
  }
  return s;
}

std::string ListConstraint(const RealBounds& each) {
  std::string constraint = "comma-separated reals";
  if (!each.Describe().empty()) constraint += ", each " + each.Describe();
  return constraint;
}

}  // namespace

OptionsDatabase OptionsDatabase::Checker() {
  OptionsDatabase db;
  db.checking_ = true;
  return db;
}

std::string CheckDeclared(const std::function<void(OptionsDatabase&)>& declare) {
  OptionsDatabase checker = OptionsDatabase::Checker();
  try {
    declare(checker);
  } catch (const InputError& e) {
    return e.what();
  }
  return {};
}

void OptionsDatabase::Real(std::string_view prefix, std::string_view name, double& value, std::string_view help,
                           std::string_view setter, RealBounds bounds) {
  if (checking_) {
    if (!bounds.Contains(value)) {
      Violation(std::string(prefix) + std::string(name), FormatReal(value), bounds.Describe(), true);
    }
    return;
  }
  OptionDeclaration& d =
      Declare(prefix, name, OptionType::kReal, help, setter, bounds.Describe(), FormatReal(value));
  if (const Entry* e = Lookup(d.name)) {
    const double v = ParseRealText(d.name, e->value);
    if (!bounds.Contains(v)) Violation(d.name, e->value, bounds.Describe(), false);
    value = v;
    d.source = e->source;
  } else if (!bounds.Contains(value)) {
    Violation(d.name, FormatReal(value), bounds.Describe(), true);
  }
  d.value_text = FormatReal(value);
}

void OptionsDatabase::DeclareInt(std::string_view prefix, std::string_view name, std::int64_t& value,
                                 std::string_view help, std::string_view setter, IntBounds bounds,
                                 IntBounds storable) {
  // The constraint printed and named in errors is the declared one (">= 0"); a value the field's type cannot hold
  // is refused naming that type's range.
  const auto check = [&](const std::string& full, std::int64_t v, const std::string& text, bool from_code) {
    if (v < bounds.lower || v > bounds.upper) Violation(full, text, bounds.Describe(), from_code);
    if (v < storable.lower || v > storable.upper) Violation(full, text, storable.Describe(), from_code);
  };
  if (checking_) {
    check(std::string(prefix) + std::string(name), value, std::to_string(value), true);
    return;
  }
  std::string constraint = bounds.Describe();
  if (constraint.empty()) constraint = storable.Describe();
  OptionDeclaration& d = Declare(prefix, name, OptionType::kInt, help, setter, constraint, std::to_string(value));
  if (const Entry* e = Lookup(d.name)) {
    const std::string t = Trim(e->value);
    std::int64_t v = 0;
    auto [ptr, ec] = std::from_chars(t.data(), t.data() + t.size(), v);
    if (t.empty() || ec != std::errc() || ptr != t.data() + t.size()) {
      throw InputError("option -" + d.name + ": '" + e->value + "' is not an integer");
    }
    check(d.name, v, e->value, false);
    value = v;
    d.source = e->source;
  } else {
    check(d.name, value, std::to_string(value), true);
  }
  d.value_text = std::to_string(value);
}

void OptionsDatabase::Int(std::string_view prefix, std::string_view name, std::int64_t& value,
                          std::string_view help, std::string_view setter, IntBounds bounds) {
  DeclareInt(prefix, name, value, help, setter, bounds, IntBounds{});
}

void OptionsDatabase::Int(std::string_view prefix, std::string_view name, int& value, std::string_view help,
                          std::string_view setter, IntBounds bounds) {
  std::int64_t wide = value;
  DeclareInt(prefix, name, wide, help, setter, bounds,
             IntBounds{std::numeric_limits<int>::min(), std::numeric_limits<int>::max()});
  value = static_cast<int>(wide);
}

void OptionsDatabase::Bool(std::string_view prefix, std::string_view name, bool& value, std::string_view help,
                           std::string_view setter) {
  if (checking_) return;
  OptionDeclaration& d =
      Declare(prefix, name, OptionType::kBool, help, setter, "true or false", value ? "true" : "false");
  if (const Entry* e = Lookup(d.name)) {
    std::string t = Trim(e->value);
    std::transform(t.begin(), t.end(), t.begin(), [](unsigned char c) { return std::tolower(c); });
    if (t.empty() || t == "true" || t == "1" || t == "yes" || t == "on") {
      value = true;
    } else if (t == "false" || t == "0" || t == "no" || t == "off") {
      value = false;
    } else {
      throw InputError("option -" + d.name + ": '" + e->value + "' is not a boolean (true or false)");
    }
    d.source = e->source;
  }
  d.value_text = value ? "true" : "false";
}

void OptionsDatabase::String(std::string_view prefix, std::string_view name, std::string& value,
                             std::string_view help, std::string_view setter) {
  if (checking_) return;
  OptionDeclaration& d = Declare(prefix, name, OptionType::kString, help, setter, "", value);
  if (const Entry* e = Lookup(d.name)) {
    if (e->value.empty()) throw InputError("option -" + d.name + " needs a value");
    value = e->value;
    d.source = e->source;
  }
  d.value_text = value;
}

void OptionsDatabase::Enum(std::string_view prefix, std::string_view name, std::string& value,
                           std::string_view help, std::string_view setter, const std::vector<std::string>& choices) {
  const auto valid = [&](const std::string& v) { return std::find(choices.begin(), choices.end(), v) != choices.end(); };
  const auto refuse = [&](const std::string& full, const std::string& v, bool from_code) {
    throw InputError("option -" + full + ": unknown value '" + v + "'" + (from_code ? " (set in code)" : "") +
                     "; valid values: " + Join(choices, ", "));
  };
  if (checking_) {
    if (!valid(value)) refuse(std::string(prefix) + std::string(name), value, true);
    return;
  }
  OptionDeclaration& d =
      Declare(prefix, name, OptionType::kEnum, help, setter, "one of: " + Join(choices, ", "), value);
  d.constraint = "one of: " + Join(choices, ", ");  // registries may have grown since the first declaration
  if (const Entry* e = Lookup(d.name)) {
    const std::string t = Trim(e->value);
    if (!valid(t)) refuse(d.name, e->value, false);
    value = t;
    d.source = e->source;
  } else if (!valid(value)) {
    refuse(d.name, value, true);
  }
  d.value_text = value;
}

void OptionsDatabase::RealList(std::string_view prefix, std::string_view name, std::vector<double>& value,
                               std::string_view help, std::string_view setter, RealBounds each) {
  const auto check_code_values = [&](const std::string& full) {
    for (double v : value) {
      if (!each.Contains(v)) {
        throw InputError("option -" + full + ": entry " + FormatReal(v) + " (set in code) violates the constraint " +
                         each.Describe());
      }
    }
  };
  if (checking_) {
    check_code_values(std::string(prefix) + std::string(name));
    return;
  }
  OptionDeclaration& d =
      Declare(prefix, name, OptionType::kRealList, help, setter, ListConstraint(each), FormatList(value));
  if (const Entry* e = Lookup(d.name)) {
    std::vector<double> parsed;
    std::stringstream ss(e->value);
    std::string item;
    while (std::getline(ss, item, ',')) {
      const double v = ParseRealText(d.name, item);
      if (!each.Contains(v)) {
        throw InputError("option -" + d.name + ": entry " + Trim(item) + " violates the constraint " +
                         each.Describe());
      }
      parsed.push_back(v);
    }
    if (parsed.empty()) throw InputError("option -" + d.name + " needs a comma-separated list of reals");
    value = std::move(parsed);
    d.source = e->source;
  } else {
    check_code_values(d.name);
  }
  d.value_text = FormatList(value);
}

// ---------------------------------------------------------------------------------------------------------------
// After the declarations

std::string OptionsDatabase::Suggest(std::string_view name) const {
  std::string best;
  std::size_t best_distance = std::string::npos;
  for (const auto& d : declarations_) {
    const std::size_t dist = EditDistance(name, d.name);
    if (dist < best_distance) {
      best_distance = dist;
      best = d.name;
    }
  }
  const std::size_t limit = std::max<std::size_t>(2, name.size() / 3);
  return best_distance <= limit ? best : std::string();
}

void OptionsDatabase::CheckAllUsed() const {
  for (const auto& [name, entry] : entries_) {
    if (entry.used) continue;
    std::string message = "unknown option -" + name;
    const std::string suggestion = Suggest(name);
    if (!suggestion.empty()) {
      message += "; did you mean -" + suggestion + "?";
    } else {
      message += " (run with -help to list the options)";
    }
    if (entry.source == OptionSource::kFile) message += " (from an options file)";
    if (entry.source == OptionSource::kEnvironment) message += " (from PUSHPULL_OPTIONS)";
    throw InputError(message);
  }
}

std::string OptionsDatabase::View() const {
  std::size_t width = 0;
  for (const auto& d : declarations_) width = std::max(width, d.name.size() + d.value_text.size() + 2);
  std::ostringstream out;
  for (const auto& d : declarations_) {
    std::string left = "-" + d.name + " " + d.value_text;
    out << left << std::string(width + 2 - std::min(width + 1, left.size()), ' ') << "# " << ToString(d.source)
        << "\n";
  }
  return out.str();
}

std::string OptionsDatabase::Help() const {
  std::ostringstream out;
  std::string section = "\x01";
  for (const auto& d : declarations_) {
    if (d.section != section) {
      section = d.section;
      out << "\n" << (section.empty() ? std::string("Options") : section) << ":\n";
    }
    out << "  -" << d.name << " <" << ToString(d.type) << "> = " << (d.value_text.empty() ? "\"\"" : d.value_text);
    out << "  (default " << (d.default_text.empty() ? "\"\"" : d.default_text);
    if (!d.constraint.empty() && d.type != OptionType::kBool) out << "; " << d.constraint;
    out << ")\n      " << d.help;
    if (!d.setter.empty()) out << "  [" << d.setter << "]";
    out << "\n";
  }
  return out.str();
}

}  // namespace pushpull
