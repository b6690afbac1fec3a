"""Math that renders without a network: LaTeX turned into MathML when the HTML is written.

nbconvert's HTML (and so nbgrader's feedback) leaves `$...$` in the page and loads MathJax from
a CDN to typeset it in the browser: offline, a student sees raw LaTeX. nbgrader's feedback
template even calls the MathJax macro without the configurable `mathjax_url`, so pointing that
setting at a local copy changes nothing. Here the math is converted to MathML once, when the
page is written (latex2mathml, pure Python); browsers draw MathML themselves (Chromium since
version 109, Firefox, Safari), so the page needs no script, no font download and no server,
and renders the same from disk, from JupyterLab's HTML viewer, or from a student's mailbox.

    inline(tex) / block(tex)     one formula as a MathML element (for pages the course writes)
    render_math(html)            every $...$ and $$...$$ of an HTML page outside code, as MathML,
                                 up to a budget per page (the rest stays LaTeX, said once)
    OfflineHTMLExporter          nbconvert's HTMLExporter with render_math applied, no MathJax
"""
import html as _html
import re
import time

from jinja2 import BytecodeCache, DictLoader
from nbconvert.exporters import HTMLExporter
from nbconvert.filters.highlight import Highlight2HTML
from traitlets import default

# Text inside these elements is code or output, never math (as MathJax's skipHtmlTags).
_SKIP = {"pre", "code", "script", "style", "textarea"}
_TAG = re.compile(r"(<[^>]*>)")
_MATH = re.compile(r"\$\$(.+?)\$\$|(?<![\\$])\$(?!\$)(.+?)(?<![\\$])\$", re.S)
# A page's budget: a student's answer of 120 thousand formulas would take 36 s and 30 MB of
# MathML. The course's own notebooks have at most 122 formulas, 3,600 characters of LaTeX, and
# render in under 15 ms; MathML is about 14 times as long as its LaTeX.
MAX_FORMULAS = 2_000       # formulas turned into MathML on one page
MAX_MATH_CHARS = 100_000   # characters of LaTeX turned into MathML on one page (about 1.4 MB of MathML)
MAX_SECONDS = 1.0          # seconds spent on one page's math
NOT_RENDERED = ('<em class="math-not-rendered">(This page has more math than is rendered: from here on '
                'it is shown as LaTeX.)</em> ')
# nbconvert's templates import this macro from 'mathjax.html.j2' to load MathJax from a CDN.
NO_MATHJAX = "{%- macro mathjax(url='') -%}{%- endmacro -%}\n"


class Remembered:
    """What a pure function of text returned for keys seen before in this grading process: every
    student's pages repeat the course's own cells and formulas. Up to `limit` characters of
    results are kept, then all are forgotten at once; a key longer than `longest` characters (a
    student's huge answer) is never kept. What raises is not kept either."""

    def __init__(self, limit=16 * 2 ** 20, longest=20_000):
        self.limit, self.longest = limit, longest
        self.kept, self.size = {}, 0

    def get(self, key, compute):
        """The result kept for `key` (a tuple of strings and flags), else compute()'s, kept."""
        if key in self.kept:
            return self.kept[key]
        value = compute()
        if sum(len(part) for part in key if isinstance(part, str)) <= self.longest:
            if self.size + len(value) > self.limit:
                self.kept.clear()
                self.size = 0
            self.kept[key] = value
            self.size += len(value)
        return value


MATHML = Remembered()      # a formula's MathML, by its LaTeX and display mode
HIGHLIGHTED = Remembered()  # a code cell's highlighted HTML, by its source and language (OfflineHTMLExporter)


def _convert(tex, display):
    from latex2mathml.converter import convert

    tex = tex.strip()
    return MATHML.get((tex, bool(display)), lambda: _safe_mathml(convert(tex, display="block" if display else "inline")))


# What latex2mathml's MathML may keep: it copies \href's URL, \style's CSS and \class's name
# into attributes, and \text{...}'s characters into the page unescaped (`\text{<img/src=x
# onerror=...>}` is an element); formulas come from students' answers and markdown.
MATHML_TAGS = {"math", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup", "mfrac",
               "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
               "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts", "none", "semantics", "mfenced"}
MATHML_ATTRIBUTES = {"display", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "accent",
                     "accentunder", "movablelimits", "linethickness", "columnalign", "rowalign", "rowspacing",
                     "columnspacing", "columnlines", "rowlines", "frame", "minsize", "maxsize", "symmetric",
                     "largeop", "form", "displaystyle", "scriptlevel", "notation", "width", "height", "depth",
                     "voffset", "mathsize", "mathcolor", "mathbackground", "open", "close", "separators",
                     "equalrows", "equalcolumns"}
_MATHML_NS = "http://www.w3.org/1998/Math/MathML"
_ATTRIBUTE_VALUE = re.compile(r"[\w .%#+-]*")


def _safe_mathml(markup):
    """MathML with only MATHML_TAGS and MATHML_ATTRIBUTES (plain values) as markup; every other
    tag and all text escaped."""
    from html.parser import HTMLParser

    out = []

    class Writer(HTMLParser):
        def handle_starttag(self, tag, attrs, end=""):
            if tag not in MATHML_TAGS:
                out.append(_html.escape(self.get_starttag_text() or ""))
                return
            kept = "".join(f' {name}="{_html.escape(value or "")}"' for name, value in attrs
                           if (name in MATHML_ATTRIBUTES and _ATTRIBUTE_VALUE.fullmatch(value or ""))
                           or (name == "xmlns" and value == _MATHML_NS))
            out.append(f"<{tag}{kept}{end}>")

        def handle_startendtag(self, tag, attrs):
            self.handle_starttag(tag, attrs, end="/")

        def handle_endtag(self, tag):
            out.append(f"</{tag}>" if tag in MATHML_TAGS else _html.escape(f"</{tag}>"))

        def handle_data(self, data):
            out.append(_html.escape(data, quote=False))

        def handle_comment(self, data):
            pass

    writer = Writer(convert_charrefs=True)
    writer.feed(markup)
    writer.close()
    return "".join(out)


def inline(tex):
    """A formula in running text, as a <math> element (escaped LaTeX if it cannot be converted)."""
    try:
        return _convert(tex, display=False)
    except Exception:  # noqa: BLE001 (latex2mathml raises many kinds; show the source instead)
        return _html.escape(f"${tex}$")


def block(tex):
    """A displayed formula, as a <math display="block"> element."""
    try:
        return _convert(tex, display=True)
    except Exception:  # noqa: BLE001
        return _html.escape(f"$${tex}$$")


class _Budget:
    """What is left of one page's budget; spent from the first formula that does not fit."""

    def __init__(self, formulas, chars, seconds):
        self.formulas, self.chars = formulas, chars
        self.deadline = time.monotonic() + seconds
        self.spent = False

    def take(self, tex):
        """True when `tex` is to be rendered (and is paid for)."""
        if self.formulas < 1 or len(tex) > self.chars or time.monotonic() > self.deadline:
            self.spent = True
            return False
        self.formulas, self.chars = self.formulas - 1, self.chars - len(tex)
        return True


def _replace(match, budget):
    display, text = (True, match.group(1)) if match.group(1) is not None else (False, match.group(2))
    if budget.spent:
        return match.group(0)
    if not budget.take(text):
        return NOT_RENDERED + match.group(0)  # the first formula past the budget: said once, here
    try:
        return _convert(_html.unescape(text), display)
    except Exception:  # noqa: BLE001 (leave what cannot be converted as it was)
        return match.group(0)


def render_math(page, max_formulas=MAX_FORMULAS, max_chars=MAX_MATH_CHARS, max_seconds=MAX_SECONDS,
                accessible=False):
    """An HTML page with the LaTeX in its text ($...$, $$...$$) replaced by MathML.

    Text inside <pre>, <code>, <script>, <style> and <textarea> is left alone (code cells,
    outputs), as are tags and their attributes. At most max_formulas formulas, max_chars
    characters of LaTeX and max_seconds seconds are spent on a page: from the first formula past
    that, the math stays as it was (the page's escaped text, readable LaTeX), with NOT_RENDERED
    once before it. accessible=True also makes the edits nbconvert's HTMLExporter makes with
    BeautifulSoup (accessible_tag). Returns the new page (a str).
    """
    budget = _Budget(max_formulas, max_chars, max_seconds)
    parts = _TAG.split(page)
    depth = 0
    for i, part in enumerate(parts):
        if i % 2:  # a tag
            name = re.match(r"</?\s*([a-zA-Z0-9]+)", part)
            if name and name.group(1).lower() in _SKIP and not part.endswith("/>"):
                depth += -1 if part.startswith("</") else 1
                depth = max(depth, 0)
            elif accessible and depth == 0 and name and not part.startswith("</"):
                parts[i] = accessible_tag(part, name.group(1).lower())
        elif depth == 0 and "$" in part and not budget.spent:
            parts[i] = _MATH.sub(lambda match: _replace(match, budget), part)
    return "".join(parts)


NO_ALT = "No description has been provided for this image"  # nbconvert's words
_HAS_ALT = re.compile(r"\salt\s*=", re.I)
_CLASS = re.compile(r"""\sclass\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))""", re.I)
_FOCUSABLE = {"jp-Cell-inputWrapper", "jp-OutputArea-output"}


def accessible_tag(tag, name):
    """One start tag with what nbconvert's HTMLExporter adds for accessibility: an alt text on an
    image without one, tabindex="0" on a cell's input and on each output (so that a keyboard
    reaches them). nbconvert parses the whole page with BeautifulSoup for this, a tenth of a
    second a feedback page; the page's tags are those of its own template."""
    if name == "img" and not _HAS_ALT.search(tag):
        return f'<img alt="{NO_ALT}"{tag[4:]}'
    if name == "div" and "tabindex" not in tag.lower():
        match = _CLASS.search(tag)
        if match and _FOCUSABLE & set(next(g for g in match.groups() if g is not None).split()):
            return f'<div tabindex="0"{tag[4:]}'
    return tag


class _CompiledTemplates(BytecodeCache):
    """Jinja's compiled templates, kept in memory for the life of the process. nbgrader makes a
    new exporter, and so a new Jinja environment, for every feedback page: without this, each
    page compiled nbconvert's dozen templates again (about a tenth of a second a page). A
    template's entry is keyed by its name and the checksum of its source, so a changed template
    is compiled anew."""

    def __init__(self):
        self._code = {}

    def load_bytecode(self, bucket):
        if bucket.key in self._code:
            bucket.bytecode_from_string(self._code[bucket.key])

    def dump_bytecode(self, bucket):
        self._code[bucket.key] = bucket.bytecode_to_string()


COMPILED_TEMPLATES = _CompiledTemplates()


class RememberedHighlight(Highlight2HTML):
    """nbconvert's highlighting of a code cell (Pygments), the HTML kept for sources seen before
    (HIGHLIGHTED): a cell's HTML depends only on its source, the language, the cell's
    magics_language and the formatter's options, and the instructor's cells are on every page."""

    def __call__(self, source, language=None, metadata=None):
        language = language or self.pygments_lexer
        key = (source, language, str((metadata or {}).get("magics_language", "")),
               repr(sorted(self.extra_formatter_options.items())))
        return HIGHLIGHTED.get(key, lambda: super(RememberedHighlight, self).__call__(source, language, metadata))


class OfflineHTMLExporter(HTMLExporter):
    """nbconvert's HTMLExporter writing pages that need no network: the math as MathML
    (render_math) and no MathJax script. nbgrader's feedback uses it through
    `c.GenerateFeedback.exporter_class` in nbgrader_config.py; its template (nbgrader's
    feedback template) is unchanged."""

    @default("extra_loaders")
    def _no_mathjax(self):
        # tried before the template folders: replaces the macro that loads MathJax
        return [DictLoader({"mathjax.html.j2": NO_MATHJAX})]

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = COMPILED_TEMPLATES
        return environment

    def from_notebook_node(self, nb, resources=None, **kw):
        """HTMLExporter.from_notebook_node (nbconvert 7.17, pinned), its BeautifulSoup pass made
        by render_math's walk over the tags (accessible_tag), then the math as MathML."""
        from nbconvert.exporters.templateexporter import TemplateExporter
        from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter

        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        self.register_filter("highlight_code",
                             self.filters.get("highlight_code", RememberedHighlight(pygments_lexer=lexer, parent=self)))
        resources = self._init_resources(resources)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        output, resources = TemplateExporter.from_notebook_node(self, nb, resources, **kw)
        return render_math(output, accessible=True), resources
