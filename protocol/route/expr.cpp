#include "protocol/route/expr.hpp"

#include <algorithm>
#include <utility>

namespace tern::protocol::route {

std::string_view type_name(Type type) {
  switch (type) {
    case Type::boolean: return "boolean";
    case Type::integer: return "integer";
    case Type::string: return "string";
    case Type::string_list: return "list of strings";
  }
  return "?";
}

std::string type_set_name(TypeSet set) {
  std::string out;
  for (Type t : {Type::boolean, Type::integer, Type::string, Type::string_list}) {
    if (!set.contains(t)) continue;
    if (!out.empty()) out += " or ";
    out += type_name(t);
  }
  return out.empty() ? std::string("nothing") : out;
}

Type type_of(const Value& value) {
  return static_cast<Type>(value.index());
}

std::string quote_string(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 2);
  out += '\'';
  for (char c : text) {
    if (c == '\'' || c == '\\') out += '\\';
    out += c;
  }
  out += '\'';
  return out;
}

std::string format_value(const Value& value) {
  switch (type_of(value)) {
    case Type::boolean: return std::get<bool>(value) ? "true" : "false";
    case Type::integer: return std::to_string(std::get<std::int64_t>(value));
    case Type::string: return quote_string(std::get<std::string>(value));
    case Type::string_list: {
      std::string out = "[";
      const auto& items = std::get<StringList>(value);
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i != 0) out += ", ";
        out += quote_string(items[i]);
      }
      return out + "]";
    }
  }
  return "?";
}

std::string_view compare_op_text(CompareOp op) {
  switch (op) {
    case CompareOp::equal: return "==";
    case CompareOp::not_equal: return "!=";
    case CompareOp::less: return "<";
    case CompareOp::greater: return ">";
    case CompareOp::less_equal: return "<=";
    case CompareOp::greater_equal: return ">=";
  }
  return "?";
}

namespace {
Expr make(NodeKind kind, std::size_t offset) {
  Expr e;
  e.kind = kind;
  e.offset = offset;
  return e;
}
}  // namespace

Expr Expr::string_literal(std::string value, std::size_t offset) {
  Expr e = make(NodeKind::string_literal, offset);
  e.text = std::move(value);
  return e;
}
Expr Expr::integer_literal(std::int64_t value, std::size_t offset) {
  Expr e = make(NodeKind::integer_literal, offset);
  e.integer = value;
  return e;
}
Expr Expr::boolean_literal(bool value, std::size_t offset) {
  Expr e = make(NodeKind::boolean_literal, offset);
  e.boolean = value;
  return e;
}
Expr Expr::list(std::vector<Expr> items, std::size_t offset) {
  Expr e = make(NodeKind::list, offset);
  e.children = std::move(items);
  return e;
}
Expr Expr::variable(std::string name, std::size_t offset) {
  Expr e = make(NodeKind::variable, offset);
  e.text = std::move(name);
  return e;
}
Expr Expr::call(std::string name, std::vector<Expr> args, std::size_t offset) {
  Expr e = make(NodeKind::call, offset);
  e.text = std::move(name);
  e.children = std::move(args);
  return e;
}
Expr Expr::logical_not(Expr operand, std::size_t offset) {
  Expr e = make(NodeKind::logical_not, offset);
  e.children.push_back(std::move(operand));
  return e;
}
Expr Expr::comparison(CompareOp op, Expr left, Expr right, std::size_t offset) {
  Expr e = make(NodeKind::comparison, offset);
  e.op = op;
  e.children.push_back(std::move(left));
  e.children.push_back(std::move(right));
  return e;
}
Expr Expr::logical_and(std::vector<Expr> operands, std::size_t offset) {
  Expr e = make(NodeKind::logical_and, offset);
  e.children = std::move(operands);
  return e;
}
Expr Expr::logical_or(std::vector<Expr> operands, std::size_t offset) {
  Expr e = make(NodeKind::logical_or, offset);
  e.children = std::move(operands);
  return e;
}

bool operator==(const Expr& a, const Expr& b) {
  if (a.kind != b.kind || a.children.size() != b.children.size()) return false;
  switch (a.kind) {
    case NodeKind::string_literal:
    case NodeKind::variable:
    case NodeKind::call:
      if (a.text != b.text) return false;
      break;
    case NodeKind::integer_literal:
      if (a.integer != b.integer) return false;
      break;
    case NodeKind::boolean_literal:
      if (a.boolean != b.boolean) return false;
      break;
    case NodeKind::comparison:
      if (a.op != b.op) return false;
      break;
    default: break;
  }
  return std::equal(a.children.begin(), a.children.end(), b.children.begin());
}

std::size_t start_offset(const Expr& node) {
  const Expr* n = &node;
  while ((n->kind == NodeKind::comparison || n->kind == NodeKind::logical_and ||
          n->kind == NodeKind::logical_or) &&
         !n->children.empty()) {
    n = &n->children.front();
  }
  return n->offset;
}

std::size_t node_count(const Expr& node) {
  std::size_t n = 1;
  for (const Expr& c : node.children) n += node_count(c);
  return n;
}

std::size_t depth(const Expr& node) {
  std::size_t d = 0;
  for (const Expr& c : node.children) d = std::max(d, depth(c));
  return d + 1;
}

}  // namespace tern::protocol::route
