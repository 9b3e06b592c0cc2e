//! A strict JSON reader into the document tree the XGBoost readers share (`Value`).

use super::ubjson::{MAX_DEPTH, Value};
use crate::error::{Error, Result};

const JSON: &str = "XGBoost JSON";

/// Parses one JSON document (nothing but whitespace may follow it).
pub(super) fn parse(bytes: &[u8]) -> Result<Value> {
    parse_as(bytes, JSON, MAX_DEPTH)
}

/// Parses one JSON document of the format named `format` (for error messages), with containers
/// nested at most `max_depth` deep (model dumps nest two levels per tree level).
pub(super) fn parse_as(bytes: &[u8], format: &'static str, max_depth: usize) -> Result<Value> {
    JsonReader {
        b: bytes,
        pos: 0,
        format,
        max_depth,
    }
    .document()
}

/// A strict JSON reader into [`Value`]. Numbers keep both their correctly rounded f64 and f32
/// values (XGBoost prints float32 in shortest form; going through f64 could round twice).
struct JsonReader<'a> {
    b: &'a [u8],
    pos: usize,
    format: &'static str,
    max_depth: usize,
}

impl JsonReader<'_> {
    fn error(&self, message: impl std::fmt::Display) -> Error {
        Error::format(self.format, format!("{message} (at byte {})", self.pos))
    }

    fn document(mut self) -> Result<Value> {
        let v = self.value(0)?;
        self.skip_ws();
        if self.pos != self.b.len() {
            return Err(self.error("unexpected text after the document"));
        }
        Ok(v)
    }

    fn skip_ws(&mut self) {
        while self.pos < self.b.len() && matches!(self.b[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn peek(&mut self) -> Result<u8> {
        self.skip_ws();
        self.b
            .get(self.pos)
            .copied()
            .ok_or_else(|| self.error("truncated document"))
    }

    fn expect(&mut self, c: u8) -> Result<()> {
        if self.peek()? != c {
            return Err(self.error(format!("expected '{}'", c as char)));
        }
        self.pos += 1;
        Ok(())
    }

    fn value(&mut self, depth: usize) -> Result<Value> {
        if depth > self.max_depth {
            return Err(self.error("containers nested too deep"));
        }
        match self.peek()? {
            b'{' => {
                self.pos += 1;
                let mut members = Vec::new();
                if self.peek()? == b'}' {
                    self.pos += 1;
                    return Ok(Value::Object(members));
                }
                loop {
                    if self.peek()? != b'"' {
                        return Err(self.error("expected a string key"));
                    }
                    let key = self.string()?;
                    self.expect(b':')?;
                    members.push((key, self.value(depth + 1)?));
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b'}' => {
                            self.pos += 1;
                            return Ok(Value::Object(members));
                        }
                        _ => return Err(self.error("expected ',' or '}'")),
                    }
                }
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                if self.peek()? == b']' {
                    self.pos += 1;
                    return Ok(Value::Array(items));
                }
                loop {
                    items.push(self.value(depth + 1)?);
                    match self.peek()? {
                        b',' => self.pos += 1,
                        b']' => {
                            self.pos += 1;
                            return Ok(Value::Array(items));
                        }
                        _ => return Err(self.error("expected ',' or ']'")),
                    }
                }
            }
            b'"' => Ok(Value::Str(self.string()?)),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'N' => self.literal("NaN", Value::Float(f64::NAN, f32::NAN)),
            b'I' => self.literal("Infinity", Value::Float(f64::INFINITY, f32::INFINITY)),
            _ => self.number(),
        }
    }

    fn literal(&mut self, word: &str, v: Value) -> Result<Value> {
        if self.b[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(v)
        } else {
            Err(self.error("unexpected token"))
        }
    }

    fn number(&mut self) -> Result<Value> {
        let start = self.pos;
        if self.b[start..].starts_with(b"-Infinity") {
            self.pos += 9;
            return Ok(Value::Float(f64::NEG_INFINITY, f32::NEG_INFINITY));
        }
        while self.pos < self.b.len()
            && matches!(
                self.b[self.pos],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
            )
        {
            self.pos += 1;
        }
        // Only ASCII bytes were consumed, so this cannot fail.
        let text = std::str::from_utf8(&self.b[start..self.pos]).unwrap_or("");
        if text.is_empty() {
            self.pos = start;
            return Err(self.error("unexpected character"));
        }
        if !text.contains(['.', 'e', 'E'])
            && let Ok(i) = text.parse::<i64>()
        {
            return Ok(Value::Int(i));
        }
        match (text.parse::<f64>(), text.parse::<f32>()) {
            (Ok(d), Ok(f)) if text.bytes().next().is_some_and(|c| c != b'+') => {
                Ok(Value::Float(d, f))
            }
            _ => {
                self.pos = start;
                Err(self.error(format!("bad number {text:?}")))
            }
        }
    }

    fn string(&mut self) -> Result<String> {
        self.pos += 1; // opening quote
        let mut out = String::new();
        loop {
            let run_start = self.pos;
            while self.pos < self.b.len() && !matches!(self.b[self.pos], b'"' | b'\\') {
                if self.b[self.pos] < 0x20 {
                    return Err(self.error("control character in string"));
                }
                self.pos += 1;
            }
            let run = std::str::from_utf8(&self.b[run_start..self.pos])
                .map_err(|_| self.error("string is not UTF-8"))?;
            out.push_str(run);
            match self.b.get(self.pos) {
                None => return Err(self.error("truncated string")),
                Some(b'"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                _ => {
                    let esc = *self
                        .b
                        .get(self.pos + 1)
                        .ok_or_else(|| self.error("truncated string"))?;
                    self.pos += 2;
                    out.push(match esc {
                        b'"' => '"',
                        b'\\' => '\\',
                        b'/' => '/',
                        b'b' => '\u{8}',
                        b'f' => '\u{c}',
                        b'n' => '\n',
                        b'r' => '\r',
                        b't' => '\t',
                        b'u' => self.unicode_escape()?,
                        _ => return Err(self.error("bad escape in string")),
                    });
                }
            }
        }
    }

    fn hex4(&mut self) -> Result<u32> {
        let digits = self
            .b
            .get(self.pos..self.pos + 4)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u32::from_str_radix(h, 16).ok())
            .ok_or_else(|| self.error("bad \\u escape"))?;
        self.pos += 4;
        Ok(digits)
    }

    fn unicode_escape(&mut self) -> Result<char> {
        let hi = self.hex4()?;
        let code = if (0xD800..0xDC00).contains(&hi) && self.b[self.pos..].starts_with(b"\\u") {
            self.pos += 2;
            let lo = self.hex4()?;
            if !(0xDC00..0xE000).contains(&lo) {
                return Err(self.error("bad surrogate pair"));
            }
            0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00)
        } else {
            hi
        };
        char::from_u32(code).ok_or_else(|| self.error("bad \\u escape"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_round_once_to_f32() {
        let v = parse(br#"{"a": [1.5E-1, -3, 8.0813E2], "s": "x\u00e9\n"}"#).unwrap();
        let a = v.get("a").and_then(Value::as_f32s).unwrap();
        assert_eq!(&a[..], &[0.15f32, -3.0, 808.13]);
        assert_eq!(v.get("s").and_then(Value::as_str), Some("xé\n"));
    }
}
