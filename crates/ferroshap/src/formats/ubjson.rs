//! A document tree shared by the XGBoost JSON and UBJSON readers, and the UBJSON decoder.
//!
//! XGBoost writes UBJSON with optimised containers (`$` element type, `#` count), so numeric
//! arrays decode into typed vectors instead of one [`Value`] per number. Every length is
//! checked against the bytes that remain before anything is allocated.

use std::borrow::Cow;

use crate::error::{Error, Result};

const FORMAT: &str = "XGBoost UBJSON";

/// Containers nest at most this deep; XGBoost models use 5 levels.
pub(crate) const MAX_DEPTH: usize = 64;

/// A decoded JSON / UBJSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// A number with a fraction or exponent, correctly rounded to both widths from its text
    /// (XGBoost writes f32 values in shortest form, so `f32` is exact and `f64` may not be).
    Float(f64, f32),
    Str(String),
    Array(Vec<Value>),
    Object(Vec<(String, Value)>),
    /// Typed UBJSON arrays of integers (int8 .. int64, uint8).
    Ints(Vec<i64>),
    /// Typed UBJSON float32 arrays.
    F32s(Vec<f32>),
    /// Typed UBJSON float64 arrays.
    F64s(Vec<f64>),
}

impl Value {
    /// The member `key` of an object.
    pub(crate) fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members.iter().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    pub(crate) fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) => Some(s),
            _ => None,
        }
    }

    pub(crate) fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }

    /// An array of integers (booleans read as 0 / 1, as XGBoost <= 1.5 wrote `default_left`).
    pub(crate) fn as_ints(&self) -> Option<Cow<'_, [i64]>> {
        match self {
            Value::Ints(v) => Some(Cow::Borrowed(v)),
            Value::Array(items) => items
                .iter()
                .map(|v| match v {
                    Value::Int(i) => Some(*i),
                    Value::Bool(b) => Some(*b as i64),
                    _ => None,
                })
                .collect::<Option<Vec<_>>>()
                .map(Cow::Owned),
            _ => None,
        }
    }

    /// An array of numbers as f32 (exact for values XGBoost wrote as float32).
    pub(crate) fn as_f32s(&self) -> Option<Cow<'_, [f32]>> {
        match self {
            Value::F32s(v) => Some(Cow::Borrowed(v)),
            Value::F64s(v) => Some(Cow::Owned(v.iter().map(|&x| x as f32).collect())),
            Value::Ints(v) => Some(Cow::Owned(v.iter().map(|&x| x as f32).collect())),
            Value::Array(items) => items
                .iter()
                .map(Value::as_f32)
                .collect::<Option<Vec<_>>>()
                .map(Cow::Owned),
            _ => None,
        }
    }

    fn as_f32(&self) -> Option<f32> {
        match self {
            Value::Float(_, f) => Some(*f),
            Value::Int(i) => Some(*i as f32),
            _ => None,
        }
    }

    /// A number as f64.
    pub(crate) fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Float(d, _) => Some(*d),
            Value::Int(i) => Some(*i as f64),
            _ => None,
        }
    }
}

/// Decodes one UBJSON document.
pub(crate) fn decode(bytes: &[u8]) -> Result<Value> {
    let mut r = Reader { bytes, pos: 0 };
    let marker = r.marker()?;
    let value = r.value(marker, 0)?;
    while r.pos < r.bytes.len() && r.bytes[r.pos] == b'N' {
        r.pos += 1;
    }
    if r.pos != r.bytes.len() {
        return Err(r.error(format!(
            "{} unexpected bytes after the document",
            r.bytes.len() - r.pos
        )));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::format(FORMAT, format!("{message} (at byte {})", self.pos))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.bytes.len() - self.pos {
            return Err(self.error(format!(
                "truncated: {n} bytes needed, {} left",
                self.bytes.len() - self.pos
            )));
        }
        let s = &self.bytes[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut a = [0u8; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }

    /// The next type marker, skipping no-op markers.
    fn marker(&mut self) -> Result<u8> {
        loop {
            let m = self.take(1)?[0];
            if m != b'N' {
                return Ok(m);
            }
        }
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn int(&mut self, marker: u8) -> Result<Option<i64>> {
        Ok(Some(match marker {
            b'i' => i8::from_be_bytes(self.array()?) as i64,
            b'U' => self.take(1)?[0] as i64,
            b'I' => i16::from_be_bytes(self.array()?) as i64,
            b'l' => i32::from_be_bytes(self.array()?) as i64,
            b'L' => i64::from_be_bytes(self.array()?),
            _ => return Ok(None),
        }))
    }

    /// A length (string, key or container count): an integer marker and value, >= 0.
    fn length(&mut self) -> Result<usize> {
        let marker = self.marker()?;
        match self.int(marker)? {
            Some(n) if n >= 0 => usize::try_from(n).map_err(|_| self.error("length too large")),
            Some(n) => Err(self.error(format!("negative length {n}"))),
            None => Err(self.error(format!(
                "expected an integer length, found marker {:?}",
                marker as char
            ))),
        }
    }

    fn string(&mut self) -> Result<String> {
        let n = self.length()?;
        let raw = self.take(n)?;
        String::from_utf8(raw.to_vec()).map_err(|_| self.error("string is not UTF-8"))
    }

    fn value(&mut self, marker: u8, depth: usize) -> Result<Value> {
        if let Some(i) = self.int(marker)? {
            return Ok(Value::Int(i));
        }
        Ok(match marker {
            b'Z' => Value::Null,
            b'T' => Value::Bool(true),
            b'F' => Value::Bool(false),
            b'd' => {
                let f = f32::from_be_bytes(self.array()?);
                Value::Float(f as f64, f)
            }
            b'D' => {
                let d = f64::from_be_bytes(self.array()?);
                Value::Float(d, d as f32)
            }
            b'C' => Value::Str((self.take(1)?[0] as char).to_string()),
            b'S' => Value::Str(self.string()?),
            b'H' => {
                let s = self.string()?;
                match (s.parse::<f64>(), s.parse::<f32>()) {
                    (Ok(d), Ok(f)) => Value::Float(d, f),
                    _ => return Err(self.error(format!("bad high-precision number {s:?}"))),
                }
            }
            b'[' | b'{' => {
                if depth >= MAX_DEPTH {
                    return Err(self.error("containers nested too deep"));
                }
                self.container(marker == b'{', depth + 1)?
            }
            other => return Err(self.error(format!("unknown marker {:?}", other as char))),
        })
    }

    fn container(&mut self, object: bool, depth: usize) -> Result<Value> {
        let mut typ = None;
        if self.peek() == Some(b'$') {
            self.pos += 1;
            typ = Some(self.take(1)?[0]);
            if self.peek() != Some(b'#') {
                return Err(self.error("typed container without a count"));
            }
        }
        let count = if self.peek() == Some(b'#') {
            self.pos += 1;
            Some(self.length()?)
        } else {
            None
        };
        if let (Some(t), Some(n), false) = (typ, count, object)
            && let Some(v) = self.typed_array(t, n)?
        {
            return Ok(v);
        }
        let left = self.bytes.len() - self.pos;
        if let Some(n) = count {
            // Every element takes at least one byte, whatever its type (zero-byte types such
            // as a typed array of nulls are refused below).
            if n > left {
                return Err(self.error(format!(
                    "truncated: container of {n} elements, {left} bytes left"
                )));
            }
            if let Some(t) = typ
                && matches!(t, b'Z' | b'T' | b'F' | b'N')
            {
                return Err(self.error(format!("unsupported typed container of {:?}", t as char)));
            }
        }
        let next_marker = |r: &mut Self| -> Result<u8> {
            match typ {
                Some(t) => Ok(t),
                None => r.marker(),
            }
        };
        if object {
            let mut members = Vec::with_capacity(count.unwrap_or(0).min(1024));
            let mut i = 0;
            loop {
                match count {
                    Some(n) if i == n => break,
                    None => {
                        while self.peek() == Some(b'N') {
                            self.pos += 1;
                        }
                        if self.peek() == Some(b'}') {
                            self.pos += 1;
                            break;
                        }
                    }
                    _ => {}
                }
                let key = self.string()?;
                let m = next_marker(self)?;
                members.push((key, self.value(m, depth)?));
                i += 1;
            }
            Ok(Value::Object(members))
        } else {
            let mut items = Vec::with_capacity(count.unwrap_or(0).min(1 << 16));
            let mut i = 0;
            loop {
                let m = match count {
                    Some(n) if i == n => break,
                    Some(_) => next_marker(self)?,
                    None => {
                        let m = self.marker()?;
                        if m == b']' {
                            break;
                        }
                        m
                    }
                };
                items.push(self.value(m, depth)?);
                i += 1;
            }
            Ok(Value::Array(items))
        }
    }

    /// Fixed-width typed arrays, read in one go; `None` for other element types.
    fn typed_array(&mut self, typ: u8, n: usize) -> Result<Option<Value>> {
        let width = match typ {
            b'i' | b'U' | b'C' => 1,
            b'I' => 2,
            b'l' | b'd' => 4,
            b'L' | b'D' => 8,
            _ => return Ok(None),
        };
        let left = self.bytes.len() - self.pos;
        if n.checked_mul(width).is_none_or(|need| need > left) {
            return Err(self.error(format!(
                "truncated: typed array of {n} x {width} bytes, {left} bytes left"
            )));
        }
        let raw = self.take(n * width)?;
        Ok(Some(match typ {
            b'd' => Value::F32s(
                raw.chunks_exact(4)
                    .map(|c| f32::from_be_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
            ),
            b'D' => Value::F64s(
                raw.chunks_exact(8)
                    .map(|c| f64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
            ),
            b'i' => Value::Ints(raw.iter().map(|&b| b as i8 as i64).collect()),
            b'U' => Value::Ints(raw.iter().map(|&b| b as i64).collect()),
            b'C' => Value::Str(raw.iter().map(|&b| b as char).collect()),
            b'I' => Value::Ints(
                raw.chunks_exact(2)
                    .map(|c| i16::from_be_bytes([c[0], c[1]]) as i64)
                    .collect(),
            ),
            b'l' => Value::Ints(
                raw.chunks_exact(4)
                    .map(|c| i32::from_be_bytes([c[0], c[1], c[2], c[3]]) as i64)
                    .collect(),
            ),
            _ => Value::Ints(
                raw.chunks_exact(8)
                    .map(|c| i64::from_be_bytes(c.try_into().unwrap_or([0; 8])))
                    .collect(),
            ),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_typed_and_plain_containers() {
        let mut doc = b"{i\x01a[$d#i\x02".to_vec();
        doc.extend(1.5f32.to_be_bytes());
        doc.extend((-2.0f32).to_be_bytes());
        doc.extend(b"i\x01bSi\x02hii\x01c[U\x07l\x00\x00\x01\x00]}");
        let v = decode(&doc).unwrap();
        assert_eq!(v.get("a"), Some(&Value::F32s(vec![1.5, -2.0])));
        assert_eq!(v.get("b").and_then(Value::as_str), Some("hi"));
        assert_eq!(
            v.get("c").and_then(Value::as_ints).as_deref(),
            Some(&[7i64, 256][..])
        );
    }

    #[test]
    fn refuses_lengths_beyond_the_input() {
        // A typed array claiming 2^62 elements must fail before allocating.
        let doc = b"[$d#L\x40\x00\x00\x00\x00\x00\x00\x00";
        assert!(decode(doc).is_err());
        assert!(decode(b"[#l\x7f\xff\xff\xffZ").is_err());
        assert!(decode(b"Si\xff").is_err());
        assert!(decode(b"[$Z#l\x7f\xff\xff\xff").is_err());
        let deep = vec![b'['; 10_000];
        assert!(decode(&deep).is_err());
    }
}
