//! A T-SQL value of `VALUES (...)`: a string read straight into the row (the common case), any
//! other value's text read up to the `,` or `)` that ends it and understood by [`super::expr`].

use std::io::Read;

use super::super::lex::Sql;
use super::super::row::{Form, Row};
use super::super::values::Esc;
use super::super::{MAX_ROW, Result};
use super::expr;

impl<R: Read> Sql<R> {
    /// One T-SQL value, appended to `row`.
    pub(crate) fn read_tsql_value(&mut self, row: &mut Row) -> Result<()> {
        self.skip_ws()?;
        let start = row.field_start();
        let first = self.input.peek_at(0)?;
        let national = matches!(first, Some(b'N' | b'n')) && self.input.peek_at(1)? == Some(b'\'');
        if first == Some(b'\'') || national {
            self.input.consume(if national { 2 } else { 1 });
            self.read_string(b'\'', Esc::None, row)?;
            self.skip_ws()?;
            if matches!(self.peek()?, Some(b',' | b')')) {
                row.end_field(Form::Text);
                return Ok(());
            }
            // More follows (`N'a' + CHAR(10)`): the string is the start of an expression's text.
            let value = row.data_mut().split_off(start);
            expr::quote(national, &value, row.data_mut());
            row.data_mut().push(b' ');
        }
        self.read_expr(row.data_mut())?;
        let data = row.data_mut();
        let text = data.split_off(start);
        let text = text.trim_ascii_end();
        match expr::understand(text, data) {
            Some(form) => row.end_field(form),
            None => {
                data.truncate(start);
                data.extend_from_slice(text);
                row.end_field(Form::Expr);
            }
        }
        if row.data_mut().len() > MAX_ROW {
            return Err(self.too_long());
        }
        Ok(())
    }
}
