//! HTML escaping of inserted values.

/// Escapes `input` for use in HTML text and in quoted attribute values.
///
/// Replaces `&`, `<`, `>`, `"`, `'` and `/` with character references (the OWASP rule for
/// element content and quoted attributes); every other character is kept. The templates pass every
/// inserted value through this function before it reaches the HTML alternative.
#[must_use]
pub fn escape_html(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#x27;"),
            '/' => out.push_str("&#x2F;"),
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape_html;

    #[test]
    fn escapes_the_owasp_set() {
        assert_eq!(
            escape_html(r#"<script>alert("x&y")</script>'"#),
            "&lt;script&gt;alert(&quot;x&amp;y&quot;)&lt;&#x2F;script&gt;&#x27;"
        );
    }

    #[test]
    fn keeps_everything_else() {
        assert_eq!(escape_html("Zoë 123 ß ✓ a=b"), "Zoë 123 ß ✓ a=b");
        assert_eq!(escape_html(""), "");
    }

    #[test]
    fn escaping_twice_escapes_the_ampersands() {
        assert_eq!(escape_html("&amp;"), "&amp;amp;");
    }

    #[test]
    fn output_never_contains_markup_characters() {
        let all: String = (0u8..=127).map(char::from).collect();
        let out = escape_html(&all);
        assert!(!out.contains(['<', '>', '"', '\'']));
        // Every `&` left starts one of our references.
        for (i, _) in out.match_indices('&') {
            let rest = &out[i..];
            assert!(
                ["&amp;", "&lt;", "&gt;", "&quot;", "&#x27;", "&#x2F;"]
                    .iter()
                    .any(|r| rest.starts_with(r))
            );
        }
    }
}
