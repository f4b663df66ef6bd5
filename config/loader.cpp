#include "config/loader.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <tuple>

#include <toml++/toml.h>

#include "config/typed_value.hpp"

namespace tern::config {

std::string to_string(const SourcePos& pos) {
  if (pos.line == 0) return pos.file;
  return pos.file + ":" + std::to_string(pos.line) + ":" + std::to_string(pos.column);
}

std::string to_string(const Diagnostic& diagnostic) {
  return to_string(diagnostic.pos) + ": " +
         (diagnostic.severity == Diagnostic::Severity::warning ? "warning: " : "") +
         diagnostic.message;
}

bool LoadResult::ok() const {
  return std::none_of(diagnostics.begin(), diagnostics.end(), [](const Diagnostic& d) {
    return d.severity == Diagnostic::Severity::error;
  });
}

const Entry* Config::find(std::string_view path) const {
  auto it = entries_.find(path);
  return it == entries_.end() ? nullptr : &it->second;
}

const Value* Config::value_or_default(std::string_view path) const {
  if (const Entry* entry = find(path)) return &entry->value;
  return schema_default(path);
}

const Value* Config::schema_default(std::string_view path) const {
  if (schema_ == nullptr) return nullptr;
  auto match = schema_->match(path);
  if (!match || !match->spec->parsed_default) return nullptr;
  return &*match->spec->parsed_default;
}

std::vector<std::string> Config::instances(std::string_view prefix) const {
  const std::string head = std::string(prefix) + ".";
  std::set<std::string> ids;
  for (const auto& [path, entry] : entries_) {
    if (path.compare(0, head.size(), head) != 0) continue;
    std::string rest = path.substr(head.size());
    ids.insert(rest.substr(0, rest.find('.')));
  }
  return {ids.begin(), ids.end()};
}

// Walks a parsed TOML document against the schema, filling a Config and diagnostics.
class Loader {
 public:
  Loader(const LoadOptions& options, std::string file, std::string base_dir)
      : options_(options), file_(std::move(file)) {
    macros_.base_dir = std::move(base_dir);
    macros_.getenv = options.getenv ? options.getenv : [](const std::string& name) {
      const char* value = std::getenv(name.c_str());
      return value ? std::optional<std::string>(value) : std::nullopt;
    };
    macros_.file_bytes_max = options.file_macro_bytes_max;
    macros_.allow_files = options.allow_file_macros;
    result_.config.schema_ = options.schema;
  }

  LoadResult run(std::string_view text) {
    toml::table document;
    try {
      document = toml::parse(text, file_);
    } catch (const toml::parse_error& e) {
      report_syntax_error(text, e);
      return std::move(result_);
    }
    walk_table(document, "", detail::position(document.source(), file_));
    check_required();
    // toml++ iterates tables in key order; a person reads the file top to bottom.
    std::stable_sort(result_.diagnostics.begin(), result_.diagnostics.end(),
                     [](const Diagnostic& a, const Diagnostic& b) {
                       return std::tie(a.pos.line, a.pos.column) <
                              std::tie(b.pos.line, b.pos.column);
                     });
    return std::move(result_);
  }

 private:
  void error(SourcePos pos, std::string message) {
    result_.diagnostics.push_back(
        {Diagnostic::Severity::error, std::move(pos), std::move(message)});
  }

  void report_syntax_error(std::string_view text, const toml::parse_error& e);
  void walk_table(const toml::table& table, const std::string& path, SourcePos pos);
  void walk(const toml::node& node, const std::string& path, SourcePos key_pos);
  void unknown_key(const std::string& path, SourcePos pos);
  void check_required();

  const LoadOptions& options_;
  std::string file_;
  detail::MacroContext macros_;
  LoadResult result_;
  // Every table and key path seen, with its first position: instances for check_required.
  std::map<std::string, SourcePos> seen_;
};

namespace {

// "[a."b".c]" -> "a.b.c": a table header line normalised for comparison, or "" if none.
std::string header_key(std::string_view line) {
  auto first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos || line[first] != '[' || line.substr(first, 2) == "[[") {
    return {};
  }
  auto close = line.find(']', first);
  if (close == std::string_view::npos) return {};
  std::string key;
  for (char c : line.substr(first + 1, close - first - 1)) {
    if (c != '"' && c != '\'' && c != ' ' && c != '\t') key += c;
  }
  return key;
}

std::vector<std::string_view> lines_of(std::string_view text) {
  std::vector<std::string_view> lines;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string_view::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

}  // namespace

void Loader::report_syntax_error(std::string_view text, const toml::parse_error& e) {
  SourcePos pos = detail::position(e.source(), file_);
  std::string message(e.description());
  const auto lines = lines_of(text);
  const std::string_view line =
      pos.line >= 1 && pos.line <= lines.size() ? lines[pos.line - 1] : "";
  if (message.find("redefine existing table") != std::string::npos) {
    // toml++ garbles the key in this message; say it plainly, with the first declaration.
    const std::string key = header_key(line);
    for (std::uint32_t i = 0; i + 1 < pos.line && !key.empty(); ++i) {
      if (header_key(lines[i]) == key) {
        message =
            "table [" +
            std::string(line.substr(line.find('[') + 1, line.find(']') - line.find('[') - 1)) +
            "] is declared twice; the first declaration is at line " + std::to_string(i + 1) +
            " (merge the two, or rename one)";
        break;
      }
    }
  } else if (message.find("expected '='") != std::string::npos &&
             line.find(':') != std::string_view::npos) {
    message += " (Tern's configuration is TOML: write `key = value`, not `key: value`)";
  }
  error(std::move(pos), "syntax error: " + message);
}

void Loader::walk_table(const toml::table& table, const std::string& path, SourcePos pos) {
  if (!path.empty()) seen_.emplace(path, pos);
  if (table.empty() && !path.empty() && !options_.schema->is_table_prefix(path)) {
    unknown_key(path, pos);
  }
  for (auto&& [key, node] : table) {
    const std::string name(key.str());
    if (name.find('.') != std::string::npos) {
      error(detail::position(key.source(), file_),
            "the name '" + name + "' contains a '.', which would make key paths ambiguous");
      continue;
    }
    walk(node, path.empty() ? name : path + "." + name, detail::position(key.source(), file_));
  }
}

void Loader::walk(const toml::node& node, const std::string& path, SourcePos key_pos) {
  if (auto match = options_.schema->match(path)) {
    seen_.emplace(path, key_pos);
    auto checked = detail::check_value(*match->spec, node, file_, macros_);
    if (checked.index() == 1) {
      auto& failure = std::get<1>(checked);
      error(std::move(failure.pos), std::move(failure.message));
      return;
    }
    result_.config.entries_.emplace(
        path, Entry{match->spec, std::move(match->bindings), std::get<0>(std::move(checked)),
                    detail::position(node.source(), file_)});
    return;
  }
  if (const toml::table* table = node.as_table()) {
    SourcePos pos = detail::position(table->source(), file_);
    walk_table(*table, path, pos.line == 0 ? key_pos : pos);
    return;
  }
  unknown_key(path, key_pos);
}

void Loader::unknown_key(const std::string& path, SourcePos pos) {
  std::string message = "unknown key '" + path + "'";
  if (auto suggestion = options_.schema->suggest(path)) {
    message += " (did you mean '" + *suggestion + "'?)";
  }
  error(std::move(pos), std::move(message));
}

void Loader::check_required() {
  for (const KeySpec& spec : options_.schema->keys()) {
    if (!spec.required) continue;
    const auto pattern = split_path(spec.pattern);
    std::size_t prefix_length = 0;  // up to and including the last <name> segment
    for (std::size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i].front() == '<') prefix_length = i + 1;
    }
    if (prefix_length == 0) continue;
    std::map<std::string, SourcePos> instances;  // concrete prefix -> first position
    for (const auto& [path, pos] : seen_) {
      const auto segments = split_path(path);
      if (segments.size() < prefix_length) continue;
      bool same = true;
      for (std::size_t i = 0; i < prefix_length && same; ++i) {
        same = pattern[i].front() == '<' || pattern[i] == segments[i];
      }
      if (!same) continue;
      std::string prefix;
      for (std::size_t i = 0; i < prefix_length; ++i) prefix += (i ? "." : "") + segments[i];
      instances.emplace(prefix, pos);
    }
    for (const auto& [prefix, pos] : instances) {
      std::string key = prefix;
      for (std::size_t i = prefix_length; i < pattern.size(); ++i) key += "." + pattern[i];
      if (result_.config.find(key) == nullptr && seen_.count(key) == 0) {
        error(pos, "missing required key '" + key + "' (" + spec.description + ")");
      }
    }
  }
}

LoadResult load_string(std::string_view text, const std::string& display_name,
                       const std::string& base_dir, const LoadOptions& options) {
  return Loader(options, display_name, base_dir).run(text);
}

LoadResult load_file(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult result;
    result.diagnostics.push_back(
        {Diagnostic::Severity::error, SourcePos{path, 0, 0},
         std::string("cannot read configuration file: ") + std::strerror(errno)});
    return result;
  }
  std::ostringstream contents;
  contents << in.rdbuf();
  auto slash = path.rfind('/');
  std::string base_dir = slash == std::string::npos ? "." : path.substr(0, slash);
  if (base_dir.empty()) base_dir = "/";
  return load_string(contents.str(), path, base_dir, options);
}

}  // namespace tern::config
