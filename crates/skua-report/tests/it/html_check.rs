//! A tiny well-formedness checker for the markup this crate emits: balanced tags, quoted
//! attributes, no stray `<`/`>` in text and only valid character references.

/// Elements that never have a closing tag.
const VOID: [&str; 8] = ["meta", "br", "input", "hr", "img", "link", "col", "wbr"];

/// Checks `html`; returns the first problem found.
pub fn check(html: &str) -> Result<(), String> {
    let b = html.as_bytes();
    let mut stack: Vec<String> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'<' if html[i..].starts_with("<!--") => {
                i += html[i..].find("-->").ok_or("unterminated comment")? + 3;
            }
            b'<' if html[i..].starts_with("<!") => {
                i += html[i..].find('>').ok_or("unterminated doctype")? + 1;
            }
            b'<' if html[i..].starts_with("</") => {
                let end = i + html[i..].find('>').ok_or("unterminated end tag")?;
                let name = html[i + 2..end].trim().to_ascii_lowercase();
                match stack.pop() {
                    Some(open) if open == name => {}
                    Some(open) => return Err(format!("</{name}> closes <{open}> at byte {i}")),
                    None => return Err(format!("</{name}> without an open element at byte {i}")),
                }
                i = end + 1;
            }
            b'<' => {
                let (name, end, self_closing) = start_tag(html, i)?;
                i = end;
                if self_closing || VOID.contains(&name.as_str()) {
                    continue;
                }
                if name == "script" || name == "style" {
                    // Raw text: jump to the matching end tag, which the loop then pops.
                    let close = format!("</{name}");
                    i += html[i..]
                        .find(&close)
                        .ok_or(format!("unterminated <{name}>"))?;
                }
                stack.push(name);
            }
            b'>' => return Err(format!("stray '>' in text at byte {i}")),
            b'&' => {
                let rest = &html[i + 1..];
                let semi = rest
                    .find(';')
                    .filter(|n| *n <= 10)
                    .ok_or(format!("bare '&' at byte {i}"))?;
                let name = &rest[..semi];
                let ok = name.strip_prefix('#').map_or_else(
                    || !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric()),
                    |num| !num.is_empty() && num.chars().all(|c| c.is_ascii_digit()),
                );
                if !ok {
                    return Err(format!("bad character reference &{name}; at byte {i}"));
                }
                i += semi + 2;
            }
            _ => i += 1,
        }
    }
    match stack.pop() {
        Some(open) => Err(format!("<{open}> never closed")),
        None => Ok(()),
    }
}

/// Parses a start tag at `i`: (lower-case name, index after `>`, self-closing).
fn start_tag(html: &str, i: usize) -> Result<(String, usize, bool), String> {
    let b = html.as_bytes();
    let mut j = i + 1;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'-') {
        j += 1;
    }
    if j == i + 1 {
        return Err(format!("stray '<' in text at byte {i}"));
    }
    let name = html[i + 1..j].to_ascii_lowercase();
    let mut quote: Option<u8> = None;
    while j < b.len() {
        match (quote, b[j]) {
            (None, b'"' | b'\'') => quote = Some(b[j]),
            (Some(q), c) if c == q => quote = None,
            (Some(_), b'<') => {
                return Err(format!("'<' inside an attribute of <{name}> at byte {j}"));
            }
            (None, b'<') => return Err(format!("unterminated <{name}> at byte {i}")),
            (None, b'>') => return Ok((name, j + 1, b[j - 1] == b'/')),
            _ => {}
        }
        j += 1;
    }
    Err(format!("unterminated <{name}> at byte {i}"))
}

#[test]
fn checker_accepts_good_markup() {
    let ok = r#"<!DOCTYPE html><html><head><meta charset="utf-8"><style>a>b{}</style></head><body><p title="a &amp; b">x &lt; y &#39;</p><svg><rect x="1"/></svg><br><script>if(a<b){}</script></body></html>"#;
    assert_eq!(check(ok), Ok(()));
}

#[test]
fn checker_catches_what_it_should() {
    assert!(check("<div><span></div>").unwrap_err().contains("closes"));
    assert!(check("<div>").unwrap_err().contains("never closed"));
    assert!(check("</p>").is_err());
    assert!(check("<p>a > b</p>").unwrap_err().contains("stray '>'"));
    assert!(check("<p>a < b</p>").unwrap_err().contains("stray '<'"));
    assert!(
        check("<p>Tom & Jerry</p>")
            .unwrap_err()
            .contains("bare '&'")
    );
    assert!(check(r#"<p title="x>y</p>"#).is_err());
    assert!(check("<style>a{}").is_err());
}
