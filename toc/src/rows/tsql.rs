//! T-SQL, as SQL Server Management Studio ("Generate Scripts" with data) and sqlcmd scripts write
//! it: what the row readers need beyond the other dialects' rules.
//!
//! - Lexing ([`lex`]): `[bracketed]` identifiers with `]]` escapes, strings without backslash
//!   escapes, and statements that end at `;` or at their line end (`GO` lines, `SET
//!   IDENTITY_INSERT [dbo].[t] ON`, `PRINT`, ... are skipped, not read as rows).
//! - Values ([`values`], understood by [`expr`]): `N'...'` and `'...'` strings, `NULL`, numbers,
//!   `0x...` binary data, the literal inside `CAST(x AS T)` and `CONVERT(T, x)` (SSMS's dates,
//!   decimals), and strings put together with `+`, `CHAR(n)` and `NCHAR(n)`; any other expression
//!   is kept as its text.

mod expr;
mod lex;
mod values;
