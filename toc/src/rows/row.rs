//! One row: its fields' decoded bytes in one buffer, and how each was written.

/// How a value was written in the dump: what SQL output writes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Form {
    /// `NULL` (`\N` in COPY rows).
    Null,
    /// A string: a COPY field, or a quoted literal (`'...'`, `E'...'`, MySQL's `"..."`), decoded.
    Text,
    /// A bare token written back as it is: a number (`-1.5e-07`), `true`, `DEFAULT`.
    Bare,
    /// A bit string (`B'0101'`, MySQL's `b'1'`): its digits.
    Bits,
    /// Binary data (MySQL's `0x...`, `X'...'`, `_binary '...'`): its bytes.
    Binary,
    /// Any other expression (`'{1,2}'::int[]`, `ROW(1, 2)`, `ST_GeomFromText(...)`): its SQL
    /// text, written back as it is.
    Expr,
}

/// One field of a [`Row`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field<'a> {
    /// How it was written.
    pub form: Form,
    /// Its bytes (decoded for strings; the SQL text for [`Form::Expr`]; empty for NULL).
    pub bytes: &'a [u8],
}

impl<'a> Field<'a> {
    /// Its value: `None` for NULL.
    pub fn value(&self) -> Option<&'a [u8]> {
        (self.form != Form::Null).then_some(self.bytes)
    }

    /// Whether it is NULL.
    pub fn is_null(&self) -> bool {
        self.form == Form::Null
    }
}

/// A row: its fields in the order the dump wrote them. Reading rows reuses one `Row`'s buffers.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Row {
    data: Vec<u8>,
    /// Each field's end in `data` and form; a field starts where the one before ends.
    ends: Vec<(usize, Form)>,
}

impl Row {
    /// Its number of fields.
    pub fn len(&self) -> usize {
        self.ends.len()
    }

    /// Whether it has no fields.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// Field `i`, if the row has that many.
    pub fn get(&self, i: usize) -> Option<Field<'_>> {
        let &(end, form) = self.ends.get(i)?;
        let start = if i == 0 { 0 } else { self.ends[i - 1].0 };
        Some(Field { form, bytes: &self.data[start..end] })
    }

    /// Its fields, in order.
    pub fn fields(&self) -> impl ExactSizeIterator<Item = Field<'_>> + '_ {
        (0..self.ends.len()).map(move |i| {
            let (end, form) = self.ends[i];
            let start = if i == 0 { 0 } else { self.ends[i - 1].0 };
            Field { form, bytes: &self.data[start..end] }
        })
    }

    /// Append a field.
    pub fn push(&mut self, form: Form, bytes: &[u8]) {
        self.data.extend_from_slice(bytes);
        self.ends.push((self.data.len(), form));
    }

    /// Remove every field (keeping the buffers).
    pub fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    /// The bytes of all fields, one after the other.
    pub(crate) fn bytes(&self) -> usize {
        self.data.len()
    }

    /// The buffer the field being built is appended to (it starts at the last field's end).
    pub(crate) fn data_mut(&mut self) -> &mut Vec<u8> {
        &mut self.data
    }

    /// Where the field being built starts in the buffer.
    pub(crate) fn field_start(&self) -> usize {
        self.ends.last().map_or(0, |e| e.0)
    }

    /// End the field being built (the buffer's bytes since the last field's end).
    pub(crate) fn end_field(&mut self, form: Form) {
        self.ends.push((self.data.len(), form));
    }

    /// This row with its fields taken in `order` (indexes into it; missing ones become NULL).
    pub(crate) fn reorder_into(&self, order: &[usize], out: &mut Row) {
        out.clear();
        for &i in order {
            match self.get(i) {
                Some(f) => out.push(f.form, f.bytes),
                None => out.push(Form::Null, b""),
            }
        }
    }
}
