#include "protocol/route/expr_check.hpp"

#include <algorithm>
#include <optional>
#include <utility>

#include "protocol/route/regex.hpp"

namespace tern::protocol::route {
namespace {

constexpr TypeSet kStr = Type::string;
constexpr TypeSet kStrOrList = TypeSet(Type::string) | Type::string_list;

constexpr FunctionSignature kFunctionTable[] = {
    {"is_local_domain", Builtin::is_local_domain, 2, {kStr, kStr}, Type::boolean},
    {"is_local_address", Builtin::is_local_address, 2, {kStr, kStr}, Type::boolean},
    {"contains", Builtin::contains, 2, {kStrOrList, kStr}, Type::boolean},
    {"starts_with", Builtin::starts_with, 2, {kStr, kStr}, Type::boolean},
    {"ends_with", Builtin::ends_with, 2, {kStr, kStr}, Type::boolean},
    {"eq_ignore_case", Builtin::eq_ignore_case, 2, {kStr, kStr}, Type::boolean},
    {"in_list", Builtin::in_list, 2, {kStr, Type::string_list}, Type::boolean},
    {"matches", Builtin::matches, 2, {kStr, kStr}, Type::boolean},
    {"len", Builtin::len, 1, {kStrOrList, {}}, Type::integer},
    {"lowercase", Builtin::lowercase, 1, {kStr, {}}, Type::string},
};

constexpr StandardVariable kVariableTable[] = {
    {"rcpt", Type::string},
    {"rcpt_domain", Type::string},
    {"sender", Type::string},
    {"sender_domain", Type::string},
    {"recipients", Type::string_list},
    {"authenticated_as", Type::string},
    {"listener", Type::string},
    {"remote_ip", Type::string},
    {"local_ip", Type::string},
    {"helo_domain", Type::string},
    {"priority", Type::integer},
    {"retry_num", Type::integer},
    {"last_error", Type::string},
};

const FunctionSignature* find_signature(std::string_view name) {
  for (const FunctionSignature& f : kFunctionTable) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

const StandardVariable* find_standard_variable(std::string_view name) {
  for (const StandardVariable& v : kVariableTable) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

// " (did you mean 'x'?)" for the first closest candidate one or two edits away, else "".
std::string suggestion(std::string_view name, const std::vector<std::string_view>& candidates) {
  std::size_t best = 3;
  std::string_view found;
  for (std::string_view c : candidates) {
    std::size_t d = edit_distance(name, c);
    if (d < best && d < name.size()) {
      best = d;
      found = c;
    }
  }
  if (found.empty()) return {};
  return " (did you mean '" + std::string(found) + "'?)";
}

bool is_string_literal_chain(const Expr& e) {
  if (e.kind != NodeKind::logical_and && e.kind != NodeKind::logical_or) return false;
  if (e.children.size() < 2) return false;
  return std::all_of(e.children.begin(), e.children.end(),
                     [](const Expr& c) { return c.kind == NodeKind::string_literal; });
}

std::string literal_list(const Expr& chain) {
  std::string out = "[";
  for (std::size_t i = 0; i < chain.children.size(); ++i) {
    if (i != 0) out += ", ";
    out += quote_string(chain.children[i].text);
  }
  return out + "]";
}

// The error for `&&`/`||` between string literals; `other`/`op` describe the comparison it
// sits in, if any, so the hint can spell out what was probably meant.
Error string_chain_error(const Expr& chain, const Expr* other, CompareOp op) {
  bool is_or = chain.kind == NodeKind::logical_or;
  std::string message = std::string(is_or ? "'||'" : "'&&'") +
                        " between string literals is not a boolean; did you mean ";
  if (other == nullptr) {
    return fail(chain.offset, message + "in_list(value, " + literal_list(chain) + ")?");
  }
  std::string subject = print(*other);
  bool negated = op == CompareOp::not_equal;
  // `x != ('a' || 'b')` reads as "x is neither": the comparisons join with the other operator.
  std::string_view join = (is_or != negated) ? " || " : " && ";
  std::string expanded;
  for (std::size_t i = 0; i < chain.children.size(); ++i) {
    if (i != 0) expanded += join;
    expanded += subject + " " + std::string(compare_op_text(op)) + " " +
                quote_string(chain.children[i].text);
  }
  message += expanded;
  if (is_or && (op == CompareOp::equal || op == CompareOp::not_equal)) {
    message += std::string(" or ") + (negated ? "!" : "") + "in_list(" + subject + ", " +
               literal_list(chain) + ")";
  }
  return fail(chain.offset, message + "?");
}

// Where PCRE2's offset inside the unescaped pattern falls in the source literal: every `'`
// and `\` of the value was written with a backslash before it.
std::size_t pattern_offset_in_source(const Expr& literal, std::size_t pattern_offset) {
  std::size_t n = std::min(pattern_offset, literal.text.size());
  std::size_t escapes = static_cast<std::size_t>(
      std::count_if(literal.text.begin(), literal.text.begin() + static_cast<std::ptrdiff_t>(n),
                    [](char c) { return c == '\'' || c == '\\'; }));
  return literal.offset + 1 + n + escapes;
}

std::string arguments_text(std::size_t n) {
  return std::to_string(n) + (n == 1 ? " argument" : " arguments");
}

class Checker {
 public:
  Checker(const Environment& env, CheckedExpr& out) : env_(env), out_(out) {}

  Result<Type> check(Expr& node, std::size_t level) {
    if (level > kAstDepthMax) {
      return fail(start_offset(node),
                  "expression nested deeper than " + std::to_string(kAstDepthMax));
    }
    switch (node.kind) {
      case NodeKind::string_literal: return Type::string;
      case NodeKind::integer_literal: return Type::integer;
      case NodeKind::boolean_literal: return Type::boolean;
      case NodeKind::list: return check_list(node, level);
      case NodeKind::variable: return check_variable(node);
      case NodeKind::call: return check_call(node, level);
      case NodeKind::logical_not: return check_not(node, level);
      case NodeKind::comparison: return check_comparison(node, level);
      case NodeKind::logical_and:
      case NodeKind::logical_or: return check_logical(node, level);
    }
    return fail(node.offset, "malformed expression");
  }

 private:
  Result<Type> check_list(Expr& node, std::size_t level) {
    for (Expr& item : node.children) {
      Result<Type> t = check(item, level + 1);
      if (!t) return t;
      if (*t != Type::string) {
        return fail(start_offset(item),
                    "list items must be strings, found " + std::string(type_name(*t)));
      }
    }
    return Type::string_list;
  }

  Result<Type> check_variable(Expr& node) {
    out_.reads_variables = true;
    if (const VariableDecl* v = env_.find_variable(node.text)) {
      node.slot = static_cast<std::uint32_t>(v->type);  // eval checks the binding against it
      return v->type;
    }
    if (find_standard_variable(node.text) != nullptr) {
      return fail(node.offset, "variable '" + node.text + "' is not available in context '" +
                                   env_.context() + "'");
    }
    std::vector<std::string_view> candidates;
    for (const VariableDecl& v : env_.variables()) candidates.push_back(v.name);
    for (const StandardVariable& v : kVariableTable) candidates.push_back(v.name);
    return fail(node.offset,
                "unknown variable '" + node.text + "'" + suggestion(node.text, candidates));
  }

  Result<Type> check_call(Expr& node, std::size_t level) {
    const FunctionSignature* sig = find_signature(node.text);
    if (sig == nullptr) {
      std::vector<std::string_view> candidates;
      for (const FunctionSignature& f : kFunctionTable) candidates.push_back(f.name);
      return fail(node.offset,
                  "unknown function '" + node.text + "'" + suggestion(node.text, candidates));
    }
    if (!env_.has_function(sig->id)) {
      return fail(node.offset, "function '" + node.text + "' is not available in context '" +
                                   env_.context() + "'");
    }
    if (node.children.size() != sig->arity) {
      return fail(node.offset, "function '" + node.text + "' takes " + arguments_text(sig->arity) +
                                   ", found " + std::to_string(node.children.size()));
    }
    for (std::size_t i = 0; i < sig->arity; ++i) {
      Expr& arg = node.children[i];
      if (sig->id == Builtin::matches && i == 0) {
        if (auto e = compile_pattern(arg)) return *e;
        continue;
      }
      Result<Type> t = check(arg, level + 1);
      if (!t) return t;
      if (!sig->params[i].contains(*t)) {
        return fail(start_offset(arg), "argument " + std::to_string(i + 1) + " of '" + node.text +
                                           "' must be " + type_set_name(sig->params[i]) +
                                           ", found " + std::string(type_name(*t)));
      }
    }
    node.slot = static_cast<std::uint32_t>(sig->id);
    if (sig->id == Builtin::is_local_domain || sig->id == Builtin::is_local_address)
      out_.uses_lookups = true;
    return sig->result;
  }

  std::optional<Error> compile_pattern(Expr& arg) {
    if (arg.kind != NodeKind::string_literal) {
      return fail(
          start_offset(arg),
          "argument 1 of 'matches' must be a string literal (the pattern is compiled once)");
    }
    auto regex = compile_regex(arg.text);
    if (!regex) {
      return fail(pattern_offset_in_source(arg, regex.error().offset),
                  "invalid regular expression: " + regex.error().message);
    }
    out_.regexes.push_back(std::move(*regex));
    arg.slot = static_cast<std::uint32_t>(out_.regexes.size());
    return std::nullopt;
  }

  Result<Type> check_not(Expr& node, std::size_t level) {
    if (node.children.size() != 1) return fail(node.offset, "malformed '!'");
    Result<Type> t = check(node.children[0], level + 1);
    if (!t) return t;
    if (*t != Type::boolean) {
      return fail(start_offset(node.children[0]),
                  "'!' needs a boolean operand, found " + std::string(type_name(*t)));
    }
    return Type::boolean;
  }

  Result<Type> check_comparison(Expr& node, std::size_t level) {
    if (node.children.size() != 2) return fail(node.offset, "malformed comparison");
    Expr& left = node.children[0];
    Expr& right = node.children[1];
    if (is_string_literal_chain(right)) return string_chain_error(right, &left, node.op);
    if (is_string_literal_chain(left)) return string_chain_error(left, &right, node.op);
    Result<Type> lt = check(left, level + 1);
    if (!lt) return lt;
    Result<Type> rt = check(right, level + 1);
    if (!rt) return rt;
    std::string op(compare_op_text(node.op));
    if (*lt != *rt) {
      return fail(node.offset, "cannot compare " + std::string(type_name(*lt)) + " with " +
                                   std::string(type_name(*rt)) + " using '" + op + "'");
    }
    bool ordering = node.op != CompareOp::equal && node.op != CompareOp::not_equal;
    if (ordering && *lt != Type::integer) {
      return fail(node.offset,
                  "'" + op + "' compares integers only, found " + std::string(type_name(*lt)));
    }
    return Type::boolean;
  }

  Result<Type> check_logical(Expr& node, std::size_t level) {
    if (node.children.size() < 2) return fail(node.offset, "malformed '&&' or '||'");
    if (is_string_literal_chain(node)) return string_chain_error(node, nullptr, CompareOp::equal);
    std::string op_text = node.kind == NodeKind::logical_and ? "'&&'" : "'||'";
    for (Expr& child : node.children) {
      Result<Type> t = check(child, level + 1);
      if (!t) return t;
      if (*t != Type::boolean) {
        return fail(start_offset(child),
                    op_text + " needs boolean operands, found " + std::string(type_name(*t)));
      }
    }
    return Type::boolean;
  }

  const Environment& env_;
  CheckedExpr& out_;
};

}  // namespace

std::span<const FunctionSignature> standard_functions() {
  return kFunctionTable;
}
std::span<const StandardVariable> standard_variables() {
  return kVariableTable;
}

const FunctionSignature& signature_of(Builtin id) {
  for (const FunctionSignature& f : kFunctionTable) {
    if (f.id == id) return f;
  }
  return kFunctionTable[0];  // unreachable: every Builtin is in the table
}

Environment::Environment(std::string context, std::vector<VariableDecl> variables_in,
                         std::vector<Builtin> functions_in)
    : context_(std::move(context)),
      variables_(std::move(variables_in)),
      functions_(std::move(functions_in)) {}

namespace {
std::vector<Builtin> all_functions() {
  std::vector<Builtin> out;
  for (const FunctionSignature& f : kFunctionTable) out.push_back(f.id);
  return out;
}
}  // namespace

Environment Environment::standard(std::string context) {
  std::vector<VariableDecl> vars;
  for (const StandardVariable& v : kVariableTable) vars.push_back({std::string(v.name), v.type});
  return Environment(std::move(context), std::move(vars), all_functions());
}

Environment Environment::with_variables(std::string context,
                                        std::span<const std::string_view> names) {
  std::vector<VariableDecl> vars;
  for (std::string_view name : names) {
    if (const StandardVariable* v = find_standard_variable(name))
      vars.push_back({std::string(v->name), v->type});
  }
  return Environment(std::move(context), std::move(vars), all_functions());
}

const VariableDecl* Environment::find_variable(std::string_view name) const {
  for (const VariableDecl& v : variables_) {
    if (v.name == name) return &v;
  }
  return nullptr;
}

bool Environment::has_function(Builtin id) const {
  return std::find(functions_.begin(), functions_.end(), id) != functions_.end();
}

Result<CheckedExpr> check(Expr ast, const Environment& env, TypeSet expected) {
  CheckedExpr out;
  out.ast = std::move(ast);
  Checker checker(env, out);
  Result<Type> t = checker.check(out.ast, 1);
  if (!t) return t.error();
  if (!expected.contains(*t)) {
    return fail(start_offset(out.ast), "expression has type " + std::string(type_name(*t)) +
                                           ", expected " + type_set_name(expected));
  }
  out.type = *t;
  return out;
}

Result<CheckedExpr> compile_expression(std::string_view text, const Environment& env,
                                       TypeSet expected, const ParseLimits& limits) {
  Result<Expr> ast = parse(text, limits);
  if (!ast) return ast.error();
  return check(std::move(*ast), env, expected);
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Optimal string alignment over three rows; names are short (name_bytes_max).
  std::vector<std::size_t> prev2(b.size() + 1), prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        cur[j] = std::min(cur[j], prev2[j - 2] + 1);
      }
    }
    prev2 = prev;
    prev = cur;
  }
  return prev[b.size()];
}

}  // namespace tern::protocol::route
