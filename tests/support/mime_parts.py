"""Decode messages with Python's email package and check each HTML part as a
document with Python's html.parser: independent of tend's own code.

Usage: python3 tests/support/mime_parts.py < messages.json
stdin: a JSON list of raw messages (strings). stdout: a JSON list with, per
message, the decoded subject, the text part, the HTML part, and the HTML
document's structure: doctype, the html element's lang, whether head has a
meta charset, a viewport and a non-empty title, body present, elements left
open or closed without being open, and the inline colours of every element
whose text contains the unsubscribe link.
"""

import email
import email.policy
import json
import sys
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


class Document(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.doctype = None
        self.stack = []
        self.seen = []
        self.lang = None
        self.charset = False
        self.viewport = False
        self.title = ""
        self.errors = []
        self.styles = []  # inline styles from the root to the current element
        self.link_styles = []  # (styles of <a> and its ancestors) for each link

    def handle_decl(self, decl):
        self.doctype = decl

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        self.seen.append(tag)
        if tag == "html":
            self.lang = attrs.get("lang")
        if tag == "meta":
            if "charset" in attrs:
                self.charset = attrs["charset"].lower() == "utf-8" and "head" in self.stack
            if attrs.get("name") == "viewport" and "head" in self.stack:
                self.viewport = "width=device-width" in attrs.get("content", "")
        if tag in ("head", "body") and (not self.stack or self.stack[-1] != "html"):
            self.errors.append(f"<{tag}> outside <html>")
        if tag == "a":
            self.link_styles.append({"href": attrs.get("href", ""), "styles": self.styles + [attrs.get("style", "")]})
        if tag not in VOID:
            self.stack.append(tag)
            self.styles.append(attrs.get("style", ""))

    def handle_startendtag(self, tag, attrs):
        self.handle_starttag(tag, attrs)
        if tag not in VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag):
        if tag in VOID:
            return
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1] if self.stack else 'nothing'}")
            if tag in self.stack:
                while self.stack and self.stack[-1] != tag:
                    self.stack.pop()
                    self.styles.pop()
            else:
                return
        self.stack.pop()
        self.styles.pop()

    def handle_data(self, data):
        if self.stack and self.stack[-1] == "title":
            self.title += data


def check(html):
    doc = Document()
    doc.feed(html)
    doc.close()
    return {
        "doctype": doc.doctype,
        "lang": doc.lang,
        "charset": doc.charset,
        "viewport": doc.viewport,
        "title": doc.title.strip(),
        "has_head": "head" in doc.seen,
        "has_body": "body" in doc.seen,
        "html_elements": doc.seen.count("html"),
        "unclosed": doc.stack,
        "errors": doc.errors,
        "links": doc.link_styles,
    }


def main():
    out = []
    for raw in json.load(sys.stdin):
        msg = email.message_from_string(raw, policy=email.policy.default)
        text = msg.get_body(preferencelist=("plain",))
        html = msg.get_body(preferencelist=("html",))
        html_content = html.get_content() if html is not None else None
        out.append(
            {
                "subject": str(msg["subject"]),
                "to": str(msg["to"]),
                "text": text.get_content() if text is not None else None,
                "html": html_content,
                "document": check(html_content) if html_content is not None else None,
            }
        )
    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
