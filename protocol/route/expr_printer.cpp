// The canonical printer declared in expr_parser.hpp.
#include <string>

#include "protocol/route/expr_parser.hpp"

namespace tern::protocol::route {
namespace {

// Binding strength, weakest first; a child weaker than its slot needs parentheses.
enum Precedence : int {
  prec_or = 1,
  prec_and = 2,
  prec_compare = 3,
  prec_not = 4,
  prec_primary = 5
};

int precedence(const Expr& e) {
  switch (e.kind) {
    case NodeKind::logical_or: return prec_or;
    case NodeKind::logical_and: return prec_and;
    case NodeKind::comparison: return prec_compare;
    case NodeKind::logical_not: return prec_not;
    default: return prec_primary;
  }
}

void print_node(std::string& out, const Expr& e);

// `needed` is the weakest precedence that may appear bare in this slot.
void print_child(std::string& out, const Expr& child, int needed) {
  bool parens = precedence(child) < needed;
  if (parens) out += '(';
  print_node(out, child);
  if (parens) out += ')';
}

void print_items(std::string& out, const Expr& e, char open, char close) {
  out += open;
  for (std::size_t i = 0; i < e.children.size(); ++i) {
    if (i != 0) out += ", ";
    print_node(out, e.children[i]);
  }
  out += close;
}

void print_node(std::string& out, const Expr& e) {
  switch (e.kind) {
    case NodeKind::string_literal: out += quote_string(e.text); return;
    case NodeKind::integer_literal: out += std::to_string(e.integer); return;
    case NodeKind::boolean_literal: out += e.boolean ? "true" : "false"; return;
    case NodeKind::variable: out += e.text; return;
    case NodeKind::list: print_items(out, e, '[', ']'); return;
    case NodeKind::call:
      out += e.text;
      print_items(out, e, '(', ')');
      return;
    case NodeKind::logical_not:
      out += '!';
      if (!e.children.empty()) print_child(out, e.children[0], prec_not);
      return;
    case NodeKind::comparison:
      if (e.children.size() != 2) return;
      print_child(out, e.children[0], prec_not);
      out += ' ';
      out += compare_op_text(e.op);
      out += ' ';
      print_child(out, e.children[1], prec_not);
      return;
    case NodeKind::logical_and:
    case NodeKind::logical_or: {
      bool is_and = e.kind == NodeKind::logical_and;
      for (std::size_t i = 0; i < e.children.size(); ++i) {
        if (i != 0) out += is_and ? " && " : " || ";
        // A same-kind child must keep its parentheses, or it would merge into this chain.
        print_child(out, e.children[i], is_and ? prec_compare : prec_and);
      }
      return;
    }
  }
}

}  // namespace

std::string print(const Expr& expr) {
  std::string out;
  print_node(out, expr);
  return out;
}

}  // namespace tern::protocol::route
