//! Compose's variable interpolation: `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`,
//! `${VAR:?error}`, `${VAR?error}`, `${VAR:+replacement}`, `${VAR+replacement}`, nested
//! defaults, and `$$` for a literal `$`. Pure: the caller passes the variables.

use std::collections::HashMap;

/// `text` with every reference replaced, and the variables it named, in order. A
/// required variable that is unset (`${VAR:?…}`) is an error quoting its message.
pub(super) fn interpolate(text: &str, variables: &HashMap<String, String>) -> Result<(String, Vec<String>), String> {
    let mut used = Vec::new();
    let result = expand(text, variables, &mut used, 0)?;
    Ok((result, used))
}

/// Defaults may nest references; deeper than this is refused rather than recursed into.
const MAXIMUM_DEPTH: usize = 16;

fn expand(
    text: &str,
    variables: &HashMap<String, String>,
    used: &mut Vec<String>,
    depth: usize,
) -> Result<String, String> {
    if depth > MAXIMUM_DEPTH {
        return Err(format!("variable defaults nest deeper than {MAXIMUM_DEPTH} levels"));
    }
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..at]);
        let after = &rest[at + 1..];
        if let Some(tail) = after.strip_prefix('$') {
            out.push('$');
            rest = tail;
        } else if let Some(inner) = after.strip_prefix('{') {
            let end = closing_brace(inner).ok_or_else(|| format!("`${{` without its closing `}}` in {text:?}"))?;
            out.push_str(&braced(&inner[..end], variables, used, depth)?);
            rest = &inner[end + 1..];
        } else {
            let length = after
                .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
                .unwrap_or(after.len());
            if length == 0 {
                out.push('$');
            } else {
                let name = &after[..length];
                used.push(name.to_string());
                out.push_str(variables.get(name).map_or("", String::as_str));
            }
            rest = &after[length..];
        }
    }
    out.push_str(rest);
    Ok(out)
}

/// Where the `}` closing a `${` lies, counting nested `${…}`.
fn closing_brace(inner: &str) -> Option<usize> {
    let mut depth = 0usize;
    let bytes = inner.as_bytes();
    for (index, byte) in bytes.iter().enumerate() {
        match byte {
            b'{' if index > 0 && bytes[index - 1] == b'$' => depth += 1,
            b'}' if depth == 0 => return Some(index),
            b'}' => depth -= 1,
            _ => {}
        }
    }
    None
}

fn braced(
    reference: &str,
    variables: &HashMap<String, String>,
    used: &mut Vec<String>,
    depth: usize,
) -> Result<String, String> {
    let length = reference
        .find(|character: char| !(character.is_ascii_alphanumeric() || character == '_'))
        .unwrap_or(reference.len());
    let (name, operator) = reference.split_at(length);
    if name.is_empty() {
        return Err(format!("`${{{reference}}}` names no variable"));
    }
    used.push(name.to_string());
    let value = variables.get(name);
    let set = value.is_some();
    let non_empty = value.is_some_and(|value| !value.is_empty());
    let value = value.cloned().unwrap_or_default();
    if operator.is_empty() {
        return Ok(value);
    }
    let (strict, rest) = match operator.strip_prefix(':') {
        Some(rest) => (true, rest),
        None => (false, operator),
    };
    let mut characters = rest.chars();
    let symbol = characters.next();
    let word = characters.as_str();
    let present = if strict { non_empty } else { set };
    match symbol {
        Some('-') => {
            if present {
                Ok(value)
            } else {
                expand(word, variables, used, depth + 1)
            }
        }
        Some('+') => {
            if present {
                expand(word, variables, used, depth + 1)
            } else {
                Ok(String::new())
            }
        }
        Some('?') if present => Ok(value),
        Some('?') => Err(format!("{name} is required: {}", expand(word, variables, used, depth + 1)?)),
        _ => Err(format!("`${{{reference}}}` is not an interpolation compose knows")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(text: &str, pairs: &[(&str, &str)]) -> Result<String, String> {
        let variables = pairs.iter().map(|(name, value)| (name.to_string(), value.to_string())).collect();
        interpolate(text, &variables).map(|(text, _)| text)
    }

    #[test]
    fn every_form_compose_knows() {
        let set = [("PORT", "9000"), ("EMPTY", "")];
        assert_eq!(with("${PORT:-8000}:8000", &set).as_deref(), Ok("9000:8000"));
        assert_eq!(with("${MISSING:-8000}:8000", &set).as_deref(), Ok("8000:8000"));
        assert_eq!(with("${EMPTY:-8000}", &set).as_deref(), Ok("8000"));
        assert_eq!(with("${EMPTY-8000}", &set).as_deref(), Ok(""));
        assert_eq!(with("$PORT/udp", &set).as_deref(), Ok("9000/udp"));
        assert_eq!(with("${PORT:+1}${MISSING+1}", &set).as_deref(), Ok("1"));
        assert_eq!(with("$$PORT ${MISSING:-${PORT}}", &set).as_deref(), Ok("$PORT 9000"));
        assert_eq!(with("${MISSING:?set the API port}", &set), Err("MISSING is required: set the API port".into()));
        assert!(with("${PORT", &set).is_err());
        assert!(with("${PORT:x}", &set).is_err());
        assert!(with(&"${A:-".repeat(40), &set).is_err());
        let (_, used) = interpolate("${A:-${B}}:$C", &HashMap::new()).expect("expands");
        assert_eq!(used, ["A", "B", "C"]);
    }

    proptest::proptest! {
        #[test]
        fn any_text_expands_or_is_refused_without_panicking(text in "[$$${}:?+\\-A-Z_0-9é ]{0,60}") {
            let variables: HashMap<String, String> = [("A".to_string(), "1".to_string())].into();
            if let Err(problem) = interpolate(&text, &variables) {
                proptest::prop_assert!(!problem.contains('\n'));
            }
        }
    }
}
