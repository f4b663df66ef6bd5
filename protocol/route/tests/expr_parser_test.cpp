#include "protocol/route/expr_parser.hpp"

#include <string>

#include <gtest/gtest.h>

namespace tern::protocol::route {
namespace {

Expr parsed(std::string_view text, const ParseLimits& limits = {}) {
  Result<Expr> r = parse(text, limits);
  EXPECT_TRUE(r.has_value()) << text << ": " << (r ? "" : r.error().message);
  return r ? *r : Expr{};
}

Error parse_error(std::string_view text, const ParseLimits& limits = {}) {
  Result<Expr> r = parse(text, limits);
  EXPECT_FALSE(r.has_value()) << text << " parsed as " << (r ? print(*r) : "");
  return r ? Error{} : r.error();
}

TEST(ExprParser, SeedCondition) {
  Expr e = parsed("is_local_domain('', rcpt_domain)");
  EXPECT_EQ(
      e, Expr::call("is_local_domain", {Expr::string_literal(""), Expr::variable("rcpt_domain")}));
  EXPECT_EQ(e.offset, 0u);
  EXPECT_EQ(e.children[1].offset, 20u);
  EXPECT_EQ(parsed("'local'"), Expr::string_literal("local"));
  EXPECT_EQ(parsed("false"), Expr::boolean_literal(false));
}

TEST(ExprParser, Literals) {
  EXPECT_EQ(parsed("'it\\'s a \\\\ path'"), Expr::string_literal("it's a \\ path"));
  EXPECT_EQ(parsed("42"), Expr::integer_literal(42));
  EXPECT_EQ(parsed("-7"), Expr::integer_literal(-7));
  EXPECT_EQ(parsed("9223372036854775807"), Expr::integer_literal(INT64_MAX));
  EXPECT_EQ(parsed("-9223372036854775808"), Expr::integer_literal(INT64_MIN));
  EXPECT_EQ(parsed("true"), Expr::boolean_literal(true));
  EXPECT_EQ(parsed("['a', 'b']"),
            Expr::list({Expr::string_literal("a"), Expr::string_literal("b")}));
  EXPECT_EQ(parsed("[]"), Expr::list({}));
  EXPECT_EQ(parsed(" \t\r\nretry_num\n"), Expr::variable("retry_num"));
  EXPECT_EQ(parsed("f()"), Expr::call("f", {}));
}

TEST(ExprParser, PrecedenceNotOverComparisonOverAndOverOr) {
  // a || b && c == d  ==  a || (b && (c == d))
  Expr e = parsed("a || b && c == d");
  EXPECT_EQ(e, Expr::logical_or(
                   {Expr::variable("a"),
                    Expr::logical_and({Expr::variable("b"),
                                       Expr::comparison(CompareOp::equal, Expr::variable("c"),
                                                        Expr::variable("d"))})}));
  // !a == b  ==  (!a) == b
  EXPECT_EQ(parsed("!a == b"),
            Expr::comparison(CompareOp::equal, Expr::logical_not(Expr::variable("a")),
                             Expr::variable("b")));
  // a && b || c  ==  (a && b) || c
  EXPECT_EQ(parsed("a && b || c"),
            Expr::logical_or({Expr::logical_and({Expr::variable("a"), Expr::variable("b")}),
                              Expr::variable("c")}));
  // Parentheses override and keep nested chains apart.
  EXPECT_EQ(parsed("(a || b) && c"),
            Expr::logical_and({Expr::logical_or({Expr::variable("a"), Expr::variable("b")}),
                               Expr::variable("c")}));
  EXPECT_EQ(parsed("(a || b) || c"),
            Expr::logical_or({Expr::logical_or({Expr::variable("a"), Expr::variable("b")}),
                              Expr::variable("c")}));
  EXPECT_EQ(parsed("a || b || c"),
            Expr::logical_or({Expr::variable("a"), Expr::variable("b"), Expr::variable("c")}));
}

TEST(ExprParser, AllComparisonOperators) {
  const std::pair<const char*, CompareOp> ops[] = {
      {"==", CompareOp::equal},  {"!=", CompareOp::not_equal},  {"<", CompareOp::less},
      {">", CompareOp::greater}, {"<=", CompareOp::less_equal}, {">=", CompareOp::greater_equal}};
  for (const auto& [text, op] : ops) {
    Expr e = parsed(std::string("priority ") + text + " -1");
    EXPECT_EQ(e, Expr::comparison(op, Expr::variable("priority"), Expr::integer_literal(-1)))
        << text;
    EXPECT_EQ(e.offset, 9u);
  }
}

TEST(ExprPrinter, CanonicalText) {
  EXPECT_EQ(print(parsed("is_local_domain( '',rcpt_domain )")), "is_local_domain('', rcpt_domain)");
  EXPECT_EQ(print(parsed("(a||b)&&!(c==d)")), "(a || b) && !(c == d)");
  EXPECT_EQ(print(parsed("((a))")), "a");
  EXPECT_EQ(print(parsed("(a || b) || c")), "(a || b) || c");
  EXPECT_EQ(print(parsed("a && (b && c)")), "a && (b && c)");
  EXPECT_EQ(print(parsed("(a == b) == c")), "(a == b) == c");
  EXPECT_EQ(print(parsed("['it\\'s',  '\\\\']")), "['it\\'s', '\\\\']");
  EXPECT_EQ(print(parsed("!!x")), "!!x");
  EXPECT_EQ(print(parsed("-0")), "0");
}

TEST(ExprPrinter, RoundTripsExamples) {
  for (const char* text : {"is_local_domain('', rcpt_domain) && !(priority >= 3 || retry_num < -2)",
                           "in_list(rcpt_domain, ['a.org', 'b.org']) != (true == false)",
                           "f(a || b, [g(), 'x'], !c)", "(!a) == (b || c && d)"}) {
    Expr e = parsed(text);
    EXPECT_EQ(parsed(print(e)), e) << text;
    EXPECT_EQ(print(parsed(print(e))), print(e));
  }
}

struct ErrorCase {
  const char* text;
  std::size_t offset;
  const char* message;
};

TEST(ExprParser, ErrorsCarryOffsets) {
  const ErrorCase cases[] = {
      {"", 0, "empty expression"},
      {"   ", 3, "empty expression"},
      {"'abc", 0, "unterminated string literal"},
      {"x == 'abc\\", 5, "unterminated string literal"},
      {"'a\\nb'", 2, "unknown escape in string literal (only \\' and \\\\ are allowed)"},
      {"'a\tb'", 2, "control character in string literal"},
      {"a = b", 2, "unexpected '=', did you mean '=='?"},
      {"a & b", 2, "unexpected '&', did you mean '&&'?"},
      {"a | b", 2, "unexpected '|', did you mean '||'?"},
      {"- 1", 0, "unexpected '-' (a negative number needs a digit after '-')"},
      {"\"relay\"", 0, "unexpected '\"' (string literals use single quotes)"},
      {"a # b", 2, "unexpected character '#'"},
      {"a \x01", 2, "unexpected byte 0x01"},
      {"9223372036854775808", 0, "integer out of range"},
      {"x == -9223372036854775809", 5, "integer out of range"},
      {"12ab", 2, "unexpected character after number"},
      {"a b", 2, "expected an operator or the end of the expression"},
      {"(a || b", 7, "expected ')'"},
      {"f(a b)", 4, "expected ',' or ')'"},
      {"['a' 'b']", 5, "expected ',' or ']'"},
      {"a ==", 4, "unexpected end of expression"},
      {"a && )", 5, "expected an expression"},
      {"a == b == c", 7, "comparisons cannot be chained; use parentheses or '&&'"},
      {"[1,]", 3, "expected an expression"},
  };
  for (const ErrorCase& c : cases) {
    Error e = parse_error(c.text);
    EXPECT_EQ(e.offset, c.offset) << c.text;
    EXPECT_EQ(e.message, c.message) << c.text;
  }
}

TEST(ExprParserLimits, TextLength) {
  ParseLimits limits;
  limits.text_bytes_max = 10;
  EXPECT_EQ(parsed("'12345678'", limits), Expr::string_literal("12345678"));  // 10 bytes
  Error e = parse_error("'123456789'", limits);                               // 11 bytes
  EXPECT_EQ(e.offset, 10u);
  EXPECT_EQ(e.message, "expression longer than 10 bytes");
  // The default is 4096.
  std::string at = "'" + std::string(4094, 'x') + "'";
  EXPECT_TRUE(parse(at).has_value());
  EXPECT_EQ(parse_error(at + " ").message, "expression longer than 4096 bytes");
}

TEST(ExprParserLimits, Depth) {
  auto nested = [](std::size_t n) { return std::string(n, '(') + "a" + std::string(n, ')'); };
  EXPECT_EQ(parsed(nested(64)), Expr::variable("a"));
  Error e = parse_error(nested(65));
  EXPECT_EQ(e.offset, 64u);
  EXPECT_EQ(e.message, "expression nested deeper than 64");
  // '!', '[' and call parentheses count too.
  ParseLimits limits;
  limits.depth_max = 3;
  EXPECT_TRUE(parse("!f([a])", limits).has_value());
  EXPECT_EQ(parse_error("!f([(a)])", limits).offset, 4u);
  EXPECT_EQ(parse_error("!!!!a", limits).offset, 3u);
}

TEST(ExprParserLimits, ListItemsAndCallArguments) {
  ParseLimits limits;
  limits.list_items_max = 3;
  limits.call_arguments_max = 2;
  EXPECT_TRUE(parse("['a', 'b', 'c']", limits).has_value());
  Error e = parse_error("['a', 'b', 'c', 'd']", limits);
  EXPECT_EQ(e.offset, 16u);
  EXPECT_EQ(e.message, "list has more than 3 items");
  EXPECT_TRUE(parse("f(a, b)", limits).has_value());
  e = parse_error("f(a, b, c)", limits);
  EXPECT_EQ(e.offset, 8u);
  EXPECT_EQ(e.message, "call has more than 2 arguments");
}

TEST(ExprParserLimits, Nodes) {
  ParseLimits limits;
  limits.nodes_max = 3;
  EXPECT_TRUE(parse("['a', 'b']", limits).has_value());  // list + 2 strings
  Error e = parse_error("['a', 'b', 'c']", limits);
  EXPECT_EQ(e.offset, 11u);
  EXPECT_EQ(e.message, "expression has more than 3 nodes");
  EXPECT_TRUE(parse("a == b", limits).has_value());
  EXPECT_EQ(parse_error("a == !b", limits).offset, 6u);
}

TEST(ExprParserLimits, NameLength) {
  ParseLimits limits;
  limits.name_bytes_max = 4;
  EXPECT_EQ(parsed("abcd", limits), Expr::variable("abcd"));
  Error e = parse_error("x == abcde", limits);
  EXPECT_EQ(e.offset, 5u);
  EXPECT_EQ(e.message, "name longer than 4 bytes");
}

}  // namespace
}  // namespace tern::protocol::route
