//! A small XML writer for the documents this module sends: element names are
//! fixed by the code, every text and attribute value is escaped.

use quick_xml::escape::escape;

/// Builds an indented XML document in a `String` (writing cannot fail).
pub(super) struct XmlWriter {
    out: String,
    depth: usize,
}

impl XmlWriter {
    /// A document that starts with the XML declaration.
    pub(super) fn new() -> Self {
        XmlWriter {
            out: String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"),
            depth: 0,
        }
    }

    fn indent(&mut self) {
        for _ in 0..self.depth {
            self.out.push_str("  ");
        }
    }

    fn start_tag(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.indent();
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attributes {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.out.push_str(&escape(*value));
            self.out.push('"');
        }
    }

    /// `<name attr="…">` and a new line; the following elements nest inside.
    pub(super) fn open(&mut self, name: &str, attributes: &[(&str, &str)]) {
        self.start_tag(name, attributes);
        self.out.push_str(">\n");
        self.depth += 1;
    }

    /// `</name>`, closing the innermost [`XmlWriter::open`].
    pub(super) fn close(&mut self, name: &str) {
        self.depth = self.depth.saturating_sub(1);
        self.indent();
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name>text</name>` on one line.
    pub(super) fn text(&mut self, name: &str, text: &str) {
        self.start_tag(name, &[]);
        self.out.push('>');
        self.out.push_str(&escape(text));
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push_str(">\n");
    }

    /// `<name/>`.
    pub(super) fn empty(&mut self, name: &str) {
        self.start_tag(name, &[]);
        self.out.push_str("/>\n");
    }

    /// The document.
    pub(super) fn finish(self) -> String {
        self.out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_text_and_attributes() {
        let mut xml = XmlWriter::new();
        xml.open("a", &[("x", "1 \"&\" <2>")]);
        xml.text("b", "Müller & <Söhne> 'x'");
        xml.empty("c");
        xml.close("a");
        assert_eq!(
            xml.finish(),
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
             <a x=\"1 &quot;&amp;&quot; &lt;2&gt;\">\n  \
             <b>Müller &amp; &lt;Söhne&gt; &apos;x&apos;</b>\n  \
             <c/>\n\
             </a>\n"
        );
    }
}
