"""What a handed-in notebook may show in formgrader and on a feedback page (SanitizeNotebook).

Formgrader renders autograded/ notebooks inside the instructor's logged-in Jupyter session, and
the feedback pages are made from the same notebooks: whatever HTML or script a student gets
into one runs with the instructor's rights (formgrader's own pages can grade, release and
delete). nbconvert cleans none of it on the way: formgrader's template renders markdown
without `clean_html`, passes `javascript:` links and raw HTML, writes an image's width from its
metadata into an unquoted attribute and its base64 payload into `src="..."` unescaped, renders
raw cells as HTML, and MathJax (formgrader loads it) honours `\\href`, `\\style`, `\\class` and
macros defined on the spot. SanitizeNotebook runs last among autograde's steps that touch
outputs (and at the end of its sanitize steps, before the notebook is first written) and keeps
only what is plain:

- outputs: stream text and errors as they are; of a display or a result, text/plain, PNG and
  JPEG images (strict base64 of a real PNG or JPEG), and text/latex without the MathJax macros
  of DANGEROUS_TEX; an image's width and height as whole numbers; nothing else. A display left
  with nothing says what was not shown. A score never changes: nbgrader scores a test cell by
  its error, stderr or execute_result outputs, and those keep their type, text and place.
- markdown cells: kept when their HTML (as nbconvert renders it) holds only the tags,
  attributes and URLs of the lists below and their text no DANGEROUS_TEX macro; otherwise shown
  as their own text in a code block, with a note. Attachments: PNG and JPEG only.
- raw cells (nbconvert renders them as HTML): shown as text, in a markdown cell.
- metadata: a cell keeps its nbgrader fields (typed), safe tags and the grader's verdict
  record; the notebook keeps its kernelspec and language names.

`unsafe_markdown(source)` says why a markdown text would be shown as text (None if it is
shown); tests/test_sanitize.py holds the attacks, and checks that every markdown cell of the
course's own notebooks is shown.
"""
import base64
import binascii
import html
import re
from html.parser import HTMLParser

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor

IMAGE_MAGIC = {"image/png": b"\x89PNG\r\n\x1a\n", "image/jpeg": b"\xff\xd8\xff"}
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")
# MathJax (formgrader's) macros that make links, styles, ids or classes, load code, or define
# new macros (from which the others can be spelled: MathJax expands macros as text)
DANGEROUS_TEX = re.compile(
    r"\\(?:href|style|class|cssId|bbox|unicode|require|html|data|attr|mmlToken|toggle|mathtip|"
    r"texttip|tooltip|Action|def|edef|gdef|xdef|let|newcommand|renewcommand|providecommand|"
    r"newenvironment|renewenvironment|DeclareMathOperator|Newextarrow|newextarrow|"
    r"includegraphics|url|input|include)(?![A-Za-z])")

# what a markdown cell's HTML may hold: nbconvert's markdown and the plain HTML of notes
TAGS = {"p", "br", "hr", "h1", "h2", "h3", "h4", "h5", "h6", "em", "strong", "b", "i", "u", "s", "del",
        "sub", "sup", "small", "mark", "kbd", "code", "pre", "blockquote", "ul", "ol", "li", "dl", "dt",
        "dd", "table", "thead", "tbody", "tfoot", "tr", "th", "td", "caption", "a", "img", "span", "div",
        "details", "summary", "abbr", "cite", "q", "figure", "figcaption"}
ATTRIBUTES = {"id", "title", "align", "colspan", "rowspan", "start", "lang", "dir", "class"}
TAG_ATTRIBUTES = {"a": {"href"}, "img": {"src", "alt", "width", "height"}, "ol": {"type"},
                  "th": {"scope"}, "abbr": {"title"}, "details": {"open"}}
_STYLE = re.compile(r"\s*text-align\s*:\s*(left|right|center)\s*;?\s*", re.I)
_CLASS = re.compile(r"[\w -]*")
_URL_SCHEMES = {"http", "https", "mailto"}
_DATA_IMAGE = re.compile(r"data:(image/png|image/jpeg);base64,([A-Za-z0-9+/=]+)")
_TAG_NAME = re.compile(r"<\s*/?\s*([A-Za-z][^\s/>]*)")
_EVENT = re.compile(r"[\s/\"'`]on[a-z]+\s*=", re.I)
_CONTROL = re.compile(r"[\x00-\x20\x7f]+")
_SAFE_TAG = re.compile(r"[\w.:+-]{1,64}")
_SAFE_NAME = re.compile(r"[\w .+()-]{0,64}")
_GRADE_ID = re.compile(r"[a-zA-Z0-9_-]+")
_CELL_ID = re.compile(r"[a-zA-Z0-9_-]{1,64}")

NOT_SHOWN = ("[The grader shows only text and PNG or JPEG images of an output: this one ({kinds}) "
             "is not shown.]")
SHOWN_AS_TEXT = ("**[The grader shows this cell as its text: it holds {why}, which would run in the "
                 "grader's browser.]**\n\n")
RAW_AS_TEXT = "**[A raw cell, shown as its text.]**\n\n"
_NBGRADER_FIELDS = {"grade": bool, "solution": bool, "locked": bool, "task": bool, "schema_version": int,
                    "grade_id": str, "points": (int, float), "checksum": str, "cell_type": str}


def image_payload(mime, data):
    """The base64 text of a PNG or JPEG payload, or None where it is not one (strictly)."""
    if isinstance(data, list):
        data = "".join(data) if all(isinstance(part, str) for part in data) else None
    if mime not in IMAGE_MAGIC or not isinstance(data, str):
        return None
    text = "".join(data.split())
    if not _BASE64.fullmatch(text):
        return None
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None
    return text if raw.startswith(IMAGE_MAGIC[mime]) else None


def _safe_url(url, image=False):
    url = _CONTROL.sub("", html.unescape(url))
    if image:
        match = _DATA_IMAGE.fullmatch(url)
        return bool(match) and image_payload(match.group(1), match.group(2)) is not None
    scheme = re.match(r"([A-Za-z][A-Za-z0-9+.-]*):", url)
    if scheme and not re.match(r"[^/?#]*:", url):
        scheme = None  # a colon after the path started is no scheme
    return scheme is None or scheme.group(1).lower() in _URL_SCHEMES


class _Checker(HTMLParser):
    """Reads HTML and notes the first tag, attribute or URL not in the lists above."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.problem = None

    def _fail(self, why):
        self.problem = self.problem or why

    def handle_starttag(self, tag, attrs):
        if tag not in TAGS:
            return self._fail(f"a {tag} element")
        for name, value in attrs:
            value = value or ""
            if name == "style":
                if not _STYLE.fullmatch(value):
                    self._fail("a style attribute")
            elif name == "class":
                if not _CLASS.fullmatch(value):
                    self._fail("a class attribute")
            elif name not in ATTRIBUTES and name not in TAG_ATTRIBUTES.get(tag, ()):
                self._fail(f"a {name} attribute")
            elif name == "href" and not _safe_url(value):
                self._fail("a link that is not http, https, mailto or on the page")
            elif name == "src" and not _safe_url(value, image=True):
                self._fail("an image that is not an embedded PNG or JPEG")
            elif name in ("width", "height") and not value.isdigit():
                self._fail(f"a {name} that is not a number")

    handle_startendtag = handle_starttag

    def handle_decl(self, decl):
        self._fail("a declaration")

    def handle_pi(self, data):
        self._fail("a processing instruction")

    def unknown_decl(self, data):
        self._fail("a CDATA section")


def _text_of(page):
    """The page's text as MathJax reads it (it skips <pre> and <code>): tags and comments out,
    entities decoded."""
    page = re.sub(r"<(pre|code)\b.*?</\1\s*>", " ", page, flags=re.S | re.I)
    return html.unescape(re.sub(r"<!--.*?-->|<[^>]*>", "", page, flags=re.S))


def render_markdown(source, attachments=None):
    """A markdown cell's HTML, as nbconvert's HTMLExporter renders it."""
    from nbconvert.filters.markdown_mistune import IPythonRenderer, MarkdownWithMath

    renderer = IPythonRenderer(escape=False, attachments=attachments or {})
    return MarkdownWithMath(renderer=renderer).render(source)


def unsafe_markdown(source, attachments=None):
    """Why a markdown text would not be shown as markdown (a phrase), or None where it is safe."""
    try:
        page = render_markdown(source, attachments)
    except Exception:  # noqa: BLE001 (a missing attachment, markdown mistune cannot read)
        return "markdown the page cannot render"
    checker = _Checker()
    checker.feed(page)
    checker.close()
    if checker.problem:
        return checker.problem
    # the browser's reading of the page, not only html.parser's: no other tag name, no handler
    for name in _TAG_NAME.findall(page):
        if name.lower() not in TAGS:
            return f"a {name.lower()} element"
    for tag in re.findall(r"<[^>]*>", page):
        if _EVENT.search(tag):
            return "an event handler"
    if DANGEROUS_TEX.search(_text_of(page)):
        return "a MathJax command that makes links, styles or macros"
    return None


def as_text(source, note):
    """Markdown that shows `source` as its text, in a code block, after `note`."""
    fence = "`" * max(3, 1 + max((len(run) for run in re.findall(r"`+", source)), default=0))
    return f"{note}{fence}text\n{source}\n{fence}\n"


def _attachments(cell):
    kept = {}
    for name, bundle in (cell.get("attachments") or {}).items():
        if not isinstance(name, str) or not _SAFE_TAG.fullmatch(name) or not isinstance(bundle, dict):
            continue
        images = {mime: payload for mime, data in bundle.items()
                  if (payload := image_payload(mime, data)) is not None}
        if images:
            kept[name] = images
    return kept


def _nbgrader_metadata(value):
    if not isinstance(value, dict):
        return None
    kept = {}
    for field, kind in _NBGRADER_FIELDS.items():
        item = value.get(field)
        if isinstance(item, kind) and not (kind is not bool and isinstance(item, bool)):
            kept[field] = item
    if "grade_id" in kept and not _GRADE_ID.fullmatch(kept["grade_id"]):
        del kept["grade_id"]
    return kept


def _cell_metadata(metadata):
    kept = {}
    nbgrader = _nbgrader_metadata(metadata.get("nbgrader"))
    if nbgrader is not None:
        kept["nbgrader"] = nbgrader
    tags = metadata.get("tags")
    if isinstance(tags, list):
        kept["tags"] = [tag for tag in tags if isinstance(tag, str) and _SAFE_TAG.fullmatch(tag)]
    if isinstance(metadata.get("course"), dict):  # the grader's verdict record (grader.execute)
        kept["course"] = metadata["course"]
    return kept


def _image_metadata(metadata, mime):
    sizes = metadata.get(mime) if isinstance(metadata, dict) else None
    if not isinstance(sizes, dict):
        return {}
    return {key: sizes[key] for key in ("width", "height")
            if isinstance(sizes.get(key), int) and not isinstance(sizes.get(key), bool) and 0 < sizes[key] <= 10_000}


def _text(value):
    if isinstance(value, list) and all(isinstance(part, str) for part in value):
        return "".join(value)
    return value if isinstance(value, str) else None


def sanitize_output(output):
    """The output as it may be shown (a new dict), or None for one that is no output at all."""
    kind = output.get("output_type") if isinstance(output, dict) else None
    if kind == "stream":
        name = output.get("name") if output.get("name") in ("stdout", "stderr") else "stdout"
        return nbformat.v4.new_output("stream", name=name, text=_text(output.get("text")) or "")
    if kind == "error":
        traceback = output.get("traceback")
        traceback = [line for line in traceback if isinstance(line, str)] if isinstance(traceback, list) else []
        return nbformat.v4.new_output("error", ename=_text(output.get("ename")) or "Error",
                                      evalue=_text(output.get("evalue")) or "", traceback=traceback)
    if kind not in ("display_data", "execute_result"):
        return None
    bundle = output.get("data") if isinstance(output.get("data"), dict) else {}
    data, metadata, dropped = {}, {}, []
    for mime, value in bundle.items():
        if mime == "text/plain" and _text(value) is not None:
            data[mime] = _text(value)
        elif mime in IMAGE_MAGIC and (payload := image_payload(mime, value)) is not None:
            data[mime] = payload
            if sizes := _image_metadata(output.get("metadata"), mime):
                metadata[mime] = sizes
        elif mime == "text/latex" and _text(value) is not None and not DANGEROUS_TEX.search(_text(value)):
            data[mime] = _text(value)
        else:
            dropped.append(str(mime)[:40])
    if not data:
        data["text/plain"] = NOT_SHOWN.format(kinds=", ".join(sorted(dropped)) or "empty")
    if kind == "execute_result":
        count = output.get("execution_count")
        count = count if isinstance(count, int) and not isinstance(count, bool) else None
        return nbformat.v4.new_output("execute_result", data=data, metadata=metadata, execution_count=count)
    return nbformat.v4.new_output("display_data", data=data, metadata=metadata)


def sanitize_cell(cell):
    """The cell as it may be shown (a new cell)."""
    kind = cell.get("cell_type")
    source = _text(cell.get("source")) or ""
    metadata = _cell_metadata(cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {})
    if kind == "code":
        new = nbformat.v4.new_code_cell(source, metadata=metadata)
        count = cell.get("execution_count")
        new.execution_count = count if isinstance(count, int) and not isinstance(count, bool) else None
        new.outputs = [kept for output in cell.get("outputs") or [] if (kept := sanitize_output(output))]
    elif kind == "markdown":
        attachments = _attachments(cell)
        why = unsafe_markdown(source, attachments)
        new = nbformat.v4.new_markdown_cell(as_text(source, SHOWN_AS_TEXT.format(why=why)) if why else source,
                                            metadata=metadata)
        if attachments and not why:
            new.attachments = attachments
    else:  # raw, or a cell of no known type
        new = nbformat.v4.new_markdown_cell(as_text(source, RAW_AS_TEXT), metadata=metadata)
    cell_id = cell.get("id")
    if isinstance(cell_id, str) and _CELL_ID.fullmatch(cell_id):
        new.id = cell_id
    return new


def sanitize_notebook_metadata(metadata):
    kept = {}
    for key, fields in (("kernelspec", ("name", "display_name", "language")),
                        ("language_info", ("name", "version", "pygments_lexer", "file_extension", "mimetype"))):
        value = metadata.get(key)
        if isinstance(value, dict):
            kept[key] = {field: value[field] for field in fields
                         if isinstance(value.get(field), str) and _SAFE_NAME.fullmatch(value[field].replace("/", "."))}
    if not {"name", "display_name"} <= set(kept.get("kernelspec", {})):
        kept.pop("kernelspec", None)  # nbformat's schema needs both
    if "name" not in kept.get("language_info", {}):
        kept.pop("language_info", None)
    return kept


class SanitizeNotebook(NbGraderPreprocessor):
    """Keep only what formgrader and a feedback page may render of a handed-in notebook; see the module."""

    enabled = True

    def preprocess(self, nb, resources):
        nb.cells = [sanitize_cell(cell) for cell in nb.cells]
        nb.metadata = nbformat.from_dict(sanitize_notebook_metadata(nb.metadata))
        return nb, resources
