#include "protocol/route/expr_parser.hpp"

#include <cstdint>
#include <limits>
#include <optional>
#include <utility>
#include <vector>

namespace tern::protocol::route {
namespace {

enum class Tok : std::uint8_t {
  end,
  string,
  integer,
  name,
  kw_true,
  kw_false,
  lparen,
  rparen,
  lbracket,
  rbracket,
  comma,
  eq,
  ne,
  lt,
  gt,
  le,
  ge,
  and_,
  or_,
  not_
};

struct Token {
  Tok kind = Tok::end;
  std::size_t offset = 0;
  std::string text;  // string value or name
  std::int64_t integer = 0;
};

bool is_name_start(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}
bool is_digit(char c) {
  return c >= '0' && c <= '9';
}
bool is_name_char(char c) {
  return is_name_start(c) || is_digit(c);
}

std::string describe_byte(char c) {
  auto u = static_cast<unsigned char>(c);
  if (u >= 0x21 && u < 0x7f) return std::string("unexpected character '") + c + "'";
  static constexpr char kHex[] = "0123456789abcdef";
  return std::string("unexpected byte 0x") + kHex[u >> 4] + kHex[u & 15];
}

class Lexer {
 public:
  Lexer(std::string_view src, const ParseLimits& limits) : src_(src), limits_(limits) {}

  // The next token, or the error that stops the parse.
  Result<Token> next() {
    skip_space();
    Token t;
    t.offset = pos_;
    if (pos_ >= src_.size()) return t;
    char c = src_[pos_];
    if (c == '\'') return lex_string();
    if (is_digit(c) || (c == '-' && pos_ + 1 < src_.size() && is_digit(src_[pos_ + 1]))) {
      return lex_integer();
    }
    if (is_name_start(c)) return lex_name();
    return lex_operator();
  }

 private:
  void skip_space() {
    while (pos_ < src_.size() &&
           (src_[pos_] == ' ' || src_[pos_] == '\t' || src_[pos_] == '\r' || src_[pos_] == '\n')) {
      ++pos_;
    }
  }

  Result<Token> lex_string() {
    Token t{Tok::string, pos_, {}, 0};
    std::size_t i = pos_ + 1;
    while (i < src_.size()) {
      char c = src_[i];
      auto u = static_cast<unsigned char>(c);
      if (c == '\'') {
        pos_ = i + 1;
        return t;
      }
      if (c == '\\') {
        if (i + 1 >= src_.size()) break;
        char e = src_[i + 1];
        if (e != '\'' && e != '\\') {
          return fail(i, "unknown escape in string literal (only \\' and \\\\ are allowed)");
        }
        t.text += e;
        i += 2;
        continue;
      }
      if (u < 0x20 || u == 0x7f) return fail(i, "control character in string literal");
      t.text += c;
      ++i;
    }
    return fail(t.offset, "unterminated string literal");
  }

  Result<Token> lex_integer() {
    Token t{Tok::integer, pos_, {}, 0};
    bool negative = src_[pos_] == '-';
    std::size_t i = pos_ + (negative ? 1 : 0);
    // Accumulate as a negative number so that INT64_MIN fits.
    std::int64_t value = 0;
    constexpr std::int64_t kMin = std::numeric_limits<std::int64_t>::min();
    for (; i < src_.size() && is_digit(src_[i]); ++i) {
      int d = src_[i] - '0';
      if (value < (kMin + d) / 10) return fail(t.offset, "integer out of range");
      value = value * 10 - d;
    }
    if (!negative) {
      if (value == kMin) return fail(t.offset, "integer out of range");
      value = -value;
    }
    if (i < src_.size() && is_name_char(src_[i]))
      return fail(i, "unexpected character after number");
    t.integer = value;
    pos_ = i;
    return t;
  }

  Result<Token> lex_name() {
    Token t{Tok::name, pos_, {}, 0};
    std::size_t i = pos_;
    while (i < src_.size() && is_name_char(src_[i])) ++i;
    if (i - pos_ > limits_.name_bytes_max) {
      return fail(pos_, "name longer than " + std::to_string(limits_.name_bytes_max) + " bytes");
    }
    t.text.assign(src_.substr(pos_, i - pos_));
    pos_ = i;
    if (t.text == "true") t.kind = Tok::kw_true;
    if (t.text == "false") t.kind = Tok::kw_false;
    return t;
  }

  Result<Token> lex_operator() {
    struct Op {
      std::string_view text;
      Tok kind;
    };
    static constexpr Op kOps[] = {{"==", Tok::eq},      {"!=", Tok::ne},    {"<=", Tok::le},
                                  {">=", Tok::ge},      {"&&", Tok::and_},  {"||", Tok::or_},
                                  {"<", Tok::lt},       {">", Tok::gt},     {"!", Tok::not_},
                                  {"(", Tok::lparen},   {")", Tok::rparen}, {"[", Tok::lbracket},
                                  {"]", Tok::rbracket}, {",", Tok::comma}};
    std::string_view rest = src_.substr(pos_);
    for (const Op& op : kOps) {
      if (rest.substr(0, op.text.size()) == op.text) {
        Token t{op.kind, pos_, {}, 0};
        pos_ += op.text.size();
        return t;
      }
    }
    char c = rest.front();
    if (c == '=') return fail(pos_, "unexpected '=', did you mean '=='?");
    if (c == '&') return fail(pos_, "unexpected '&', did you mean '&&'?");
    if (c == '|') return fail(pos_, "unexpected '|', did you mean '||'?");
    if (c == '-') return fail(pos_, "unexpected '-' (a negative number needs a digit after '-')");
    if (c == '"') return fail(pos_, "unexpected '\"' (string literals use single quotes)");
    return fail(pos_, describe_byte(c));
  }

  std::string_view src_;
  const ParseLimits& limits_;
  std::size_t pos_ = 0;
};

std::optional<CompareOp> compare_op(Tok t) {
  switch (t) {
    case Tok::eq: return CompareOp::equal;
    case Tok::ne: return CompareOp::not_equal;
    case Tok::lt: return CompareOp::less;
    case Tok::gt: return CompareOp::greater;
    case Tok::le: return CompareOp::less_equal;
    case Tok::ge: return CompareOp::greater_equal;
    default: return std::nullopt;
  }
}

class Parser {
 public:
  Parser(std::string_view text, const ParseLimits& limits)
      : lexer_(text, limits), limits_(limits) {}

  Result<Expr> run() {
    if (auto e = advance()) return *e;
    if (cur_.kind == Tok::end) return fail(cur_.offset, "empty expression");
    Result<Expr> e = parse_or();
    if (!e) return e;
    if (cur_.kind != Tok::end) {
      return fail(cur_.offset, "expected an operator or the end of the expression");
    }
    return e;
  }

 private:
  std::optional<Error> advance() {
    Result<Token> t = lexer_.next();
    if (!t) return t.error();
    cur_ = std::move(*t);
    return std::nullopt;
  }

  std::optional<Error> count_node(std::size_t offset) {
    if (++nodes_ > limits_.nodes_max) {
      return fail(offset,
                  "expression has more than " + std::to_string(limits_.nodes_max) + " nodes");
    }
    return std::nullopt;
  }

  std::optional<Error> enter(std::size_t offset) {
    if (++depth_ > limits_.depth_max) {
      return fail(offset, "expression nested deeper than " + std::to_string(limits_.depth_max));
    }
    return std::nullopt;
  }

  // `&&` and `||` chains: one n-ary node per run of the same operator.
  Result<Expr> parse_chain(Tok op, NodeKind kind) {
    Result<Expr> first =
        op == Tok::or_ ? parse_chain(Tok::and_, NodeKind::logical_and) : parse_comparison();
    if (!first || cur_.kind != op) return first;
    Expr node;
    node.kind = kind;
    node.offset = cur_.offset;
    if (auto e = count_node(cur_.offset)) return *e;
    node.children.push_back(std::move(*first));
    while (cur_.kind == op) {
      if (auto e = advance()) return *e;
      Result<Expr> next =
          op == Tok::or_ ? parse_chain(Tok::and_, NodeKind::logical_and) : parse_comparison();
      if (!next) return next;
      node.children.push_back(std::move(*next));
    }
    return node;
  }

  Result<Expr> parse_or() { return parse_chain(Tok::or_, NodeKind::logical_or); }

  Result<Expr> parse_comparison() {
    Result<Expr> left = parse_unary();
    if (!left) return left;
    std::optional<CompareOp> op = compare_op(cur_.kind);
    if (!op) return left;
    std::size_t offset = cur_.offset;
    if (auto e = count_node(offset)) return *e;
    if (auto e = advance()) return *e;
    Result<Expr> right = parse_unary();
    if (!right) return right;
    if (compare_op(cur_.kind)) {
      return fail(cur_.offset, "comparisons cannot be chained; use parentheses or '&&'");
    }
    return Expr::comparison(*op, std::move(*left), std::move(*right), offset);
  }

  Result<Expr> parse_unary() {
    if (cur_.kind != Tok::not_) return parse_primary();
    std::size_t offset = cur_.offset;
    if (auto e = enter(offset)) return *e;
    if (auto e = count_node(offset)) return *e;
    if (auto e = advance()) return *e;
    Result<Expr> operand = parse_unary();
    if (!operand) return operand;
    --depth_;
    return Expr::logical_not(std::move(*operand), offset);
  }

  Result<Expr> parse_primary() {
    Token t = cur_;
    switch (t.kind) {
      case Tok::string:
      case Tok::integer:
      case Tok::kw_true:
      case Tok::kw_false: return parse_literal();
      case Tok::lbracket:
        return parse_items(Tok::rbracket, Expr::list({}, t.offset), limits_.list_items_max);
      case Tok::name: return parse_name();
      case Tok::lparen: return parse_parenthesized();
      case Tok::end: return fail(t.offset, "unexpected end of expression");
      default: return fail(t.offset, "expected an expression");
    }
  }

  Result<Expr> parse_literal() {
    Token t = std::move(cur_);
    if (auto e = count_node(t.offset)) return *e;
    if (auto e = advance()) return *e;
    switch (t.kind) {
      case Tok::string: return Expr::string_literal(std::move(t.text), t.offset);
      case Tok::integer: return Expr::integer_literal(t.integer, t.offset);
      default: return Expr::boolean_literal(t.kind == Tok::kw_true, t.offset);
    }
  }

  Result<Expr> parse_name() {
    Token t = std::move(cur_);
    if (auto e = advance()) return *e;
    if (cur_.kind == Tok::lparen) {
      return parse_items(Tok::rparen, Expr::call(std::move(t.text), {}, t.offset),
                         limits_.call_arguments_max);
    }
    if (auto e = count_node(t.offset)) return *e;
    return Expr::variable(std::move(t.text), t.offset);
  }

  Result<Expr> parse_parenthesized() {
    if (auto e = enter(cur_.offset)) return *e;
    if (auto e = advance()) return *e;
    Result<Expr> inner = parse_or();
    if (!inner) return inner;
    if (cur_.kind != Tok::rparen) return fail(cur_.offset, "expected ')'");
    if (auto e = advance()) return *e;
    --depth_;
    return inner;
  }

  // A list literal or call arguments; `cur_` is on the opening bracket or parenthesis.
  Result<Expr> parse_items(Tok close, Expr node, std::size_t items_max) {
    const char* what = close == Tok::rbracket ? "list" : "call";
    if (auto e = enter(cur_.offset)) return *e;
    if (auto e = count_node(node.offset)) return *e;
    if (auto e = advance()) return *e;
    if (cur_.kind != close) {
      while (true) {
        if (node.children.size() == items_max) {
          return fail(cur_.offset, std::string(what) + " has more than " +
                                       std::to_string(items_max) +
                                       (close == Tok::rbracket ? " items" : " arguments"));
        }
        Result<Expr> item = parse_or();
        if (!item) return item;
        node.children.push_back(std::move(*item));
        if (cur_.kind == close) break;
        if (cur_.kind != Tok::comma) {
          return fail(cur_.offset,
                      close == Tok::rbracket ? "expected ',' or ']'" : "expected ',' or ')'");
        }
        if (auto e = advance()) return *e;
      }
    }
    if (auto e = advance()) return *e;
    --depth_;
    return node;
  }

  Lexer lexer_;
  const ParseLimits& limits_;
  Token cur_;
  std::size_t depth_ = 0;
  std::size_t nodes_ = 0;
};

}  // namespace

Result<Expr> parse(std::string_view text, const ParseLimits& limits) {
  if (text.size() > limits.text_bytes_max) {
    return fail(limits.text_bytes_max,
                "expression longer than " + std::to_string(limits.text_bytes_max) + " bytes");
  }
  return Parser(text, limits).run();
}

}  // namespace tern::protocol::route
