// protocol/route/expr_parser.hpp — text to syntax tree, and the canonical printer.
//
// Grammar (whitespace is space, tab, CR, LF between tokens):
//   expr       := and ( '||' and )*
//   and        := comparison ( '&&' comparison )*
//   comparison := unary ( ( '==' | '!=' | '<' | '>' | '<=' | '>=' ) unary )?
//   unary      := '!' unary | primary
//   primary    := STRING | INTEGER | 'true' | 'false' | '[' ( expr ( ',' expr )* )? ']'
//               | NAME '(' ( expr ( ',' expr )* )? ')' | NAME | '(' expr ')'
//   STRING     := "'" ( any byte but ' \ and control characters | "\'" | "\\" )* "'"
//   INTEGER    := '-'? [0-9]+  (must fit in int64)
//   NAME       := [A-Za-z_][A-Za-z0-9_]*  (true and false are reserved)
// So `!` binds tighter than comparisons, comparisons than `&&`, `&&` than `||`.
//
// parse(text, limits): the tree, or an Error whose offset is the byte in `text` where the
// fault was noticed (the start of an unterminated string, the token that exceeds a limit).
// Every limit is inclusive: a value equal to the limit is accepted, one more is refused.
// parse never throws on any input and its work is linear in the text length.
//
// print(expr): canonical text: single spaces around binary operators, `, ` between items,
// parentheses only where precedence needs them. For every tree parse() returns,
// parse(print(e)) == e (the canonical text may be longer than the original, which may have
// saved spaces, so re-parsing it may need a larger text_bytes_max; every other limit holds
// for it unchanged). A hand-built tree parse() could not produce (a string with a
// control character, an `&&` with fewer than two operands) prints text that may not parse.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "protocol/core/result.hpp"
#include "protocol/route/expr.hpp"

namespace tern::protocol::route {

struct ParseLimits {
  std::size_t text_bytes_max = 4096;
  std::size_t depth_max = 64;        // open '(' '[' call parentheses and '!' around a token
  std::size_t list_items_max = 256;  // items in one list literal
  std::size_t call_arguments_max = 8;
  std::size_t nodes_max = 1024;     // nodes in the whole tree
  std::size_t name_bytes_max = 64;  // a variable or function name
};

Result<Expr> parse(std::string_view text, const ParseLimits& limits = {});

std::string print(const Expr& expr);

}  // namespace tern::protocol::route
