"""The report as one HTML page: every text escaped, every picture inline, a strict CSP.

Student ids and messages are hostile input: they are only ever written through `esc` (text
and attribute values) or percent-encoded into links. The only script and style are the two
below, allowed by their hashes in the page's Content-Security-Policy; nothing is fetched.
"""
from __future__ import annotations

import base64
import hashlib
from html import escape

from . import mistakes as wrong
from . import plots, stats
from ..grading.printable import visible
from .classdata import NOT_SUBMITTED, ClassData

STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:1.5em auto;max-width:1100px;color:#222;padding:0 1em}
h1{margin-bottom:0}h2{border-bottom:2px solid #3b6ea5;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}
td.num{text-align:right}th button{font:inherit;font-weight:bold;border:0;background:none;cursor:pointer;padding:0}
th[aria-sort=ascending] button::after{content:" \\25B2"}th[aria-sort=descending] button::after{content:" \\25BC"}
.figs{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.muted{color:#666}.status-graded{color:#2e8b57}
.status-error,.status-timeout,.status-unresolved{color:#c0504d;font-weight:bold}
code{white-space:pre-wrap;word-break:break-word}td.who{min-width:14em}
"""

# click a column's button: sort the rows by each cell's data-sort (numbers as numbers)
SCRIPT = """
document.querySelectorAll("table.sortable").forEach(function (table) {
  var heads = table.querySelectorAll("thead th");
  heads.forEach(function (th, col) {
    th.querySelector("button").addEventListener("click", function () {
      var up = th.getAttribute("aria-sort") !== "ascending";
      heads.forEach(function (h) { h.removeAttribute("aria-sort"); });
      th.setAttribute("aria-sort", up ? "ascending" : "descending");
      var body = table.tBodies[0], rows = Array.prototype.slice.call(body.rows);
      rows.sort(function (a, b) {
        var x = a.cells[col].getAttribute("data-sort"), y = b.cells[col].getAttribute("data-sort");
        var nx = parseFloat(x), ny = parseFloat(y);
        var c = (isNaN(nx) || isNaN(ny)) ? x.localeCompare(y) : nx - ny;
        return up ? c : -c;
      });
      rows.forEach(function (r) { body.appendChild(r); });
    });
  });
});
"""


MOST_PER_ITEM = 3  # mistake classes listed per item (the most common; the rest are counted)


def esc(value) -> str:
    """Text as HTML text: markup escaped, control characters (bidi overrides, terminal escapes)
    shown as escapes."""
    return escape(visible(str(value)), quote=True)


def _hash(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def csp() -> str:
    return (f"default-src 'none'; img-src data:; style-src {_hash(STYLE)}; script-src {_hash(SCRIPT)}; "
            "base-uri 'none'; form-action 'none'")


def num(x, digits: int = 3) -> str:
    return "–" if x is None else f"{x:.{digits}g}"


def short(text: str, limit: int = 400) -> str:
    """A message as the table shows it (a student's code may print pages into one)."""
    return text if len(text) <= limit else text[:limit] + " …"


def cell(content: str, sort, cls: str = "") -> str:
    """A table cell: content is HTML already escaped; sort is the raw value the script sorts by."""
    return f'<td data-sort="{esc(sort)}" class="{esc(cls)}">{content}</td>'


def students_line(ids: list, shown: int = 8) -> str:
    """The first few ids, the rest folded (<details>: no script needed)."""
    codes = [f"<code>{esc(s)}</code>" for s in ids]
    more = (f"<details><summary>and {len(ids) - shown} more</summary>{', '.join(codes[shown:])}</details>"
            if len(ids) > shown else "")
    return ", ".join(codes[:shown]) + more


def per_item(rows: list, keep: int) -> tuple[list, dict]:
    """The first `keep` mistakes of each item (rows come most students first), and per item
    how many classes were left out."""
    kept, left = [], {}
    for m in rows:
        if sum(k.item == m.item for k in kept) < keep:
            kept.append(m)
        else:
            left[m.item] = left.get(m.item, 0) + 1
    return kept, left


def mistakes_table(rows: list, with_assignment: bool, left: dict | None = None) -> str:
    if not rows:
        return "<p class=muted>No failed items.</p>"
    left = left or {}
    head = ("<th>assignment</th>" if with_assignment else "") + \
        "<th>item</th><th>mistake (numbers as #)</th><th>rows</th><th>students</th><th>who</th>"
    body = []
    for m in rows:
        kind = "likely cause: " if m.by_cause else ""
        body.append("<tr>" + (f"<td>{esc(m.assignment)}</td>" if with_assignment else "")
                    + f"<td>{esc(m.item)}</td><td>{esc(kind)}<code>{esc(short(m.label))}</code>"
                    + (f"<br><span class=muted>e.g. {esc(short(m.example))}</span>" if m.example != m.label else "")
                    + "</td>"
                    + f"<td class=num>{m.count}</td><td class=num data-students>{len(m.students)}</td>"
                    + f"<td class=who>{students_line(m.students)}</td></tr>")
        if left.get(m.item) and m is [k for k in rows if k.item == m.item][-1]:
            body.append(f"<tr><td></td><td colspan=4 class=muted>{left[m.item]} less common kinds of "
                        f"failure of {esc(m.item)} (see the students' feedback)</td></tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def assignment_section(data: ClassData, a: str) -> str:
    scores = stats.scores(data, a)
    sp, top = stats.spread(scores), data.max_scores.get(a, 0.0)
    rates = stats.item_rates(data, a)
    counts = stats.status_counts(data, a)
    status_rows = "".join(f'<tr><td class="status-{esc(k)}">{esc(k.replace("_", " "))}</td>'
                          f'<td class=num data-count="{esc(k)}">{v}</td></tr>' for k, v in counts.items())
    rate_rows = "".join(f'<tr data-item="{esc(r.item)}">' f"<td>{esc(r.item)}</td><td class=num>{r.passed}</td>"
                        f"<td class=num>{r.total}</td><td class=num>{100 * r.rate:.0f}%</td>"
                        f"<td class=num>{r.not_run or ''}</td></tr>" for r in rates)
    order = {item: k for k, item in enumerate(data.items(a))}
    kept, left = per_item(wrong.mistakes(data, a), MOST_PER_ITEM)
    kept.sort(key=lambda m: (order.get(m.item, 0), -len(m.students)))  # by item, most students first
    slow = stats.slowest(data, a)
    slow_rows = "".join(f"<tr><td><code>{esc(s.student_id)}</code></td><td class=num>{s.seconds:.1f} s</td></tr>"
                        for s in slow) or "<tr><td colspan=2 class=muted>no times recorded</td></tr>"
    figs = ""
    if scores:
        figs += f"<img alt='score histogram of {esc(a)}' src='{plots.histogram(scores, top)}'>"
    if rates:
        figs += f"<img alt='pass rate per item of {esc(a)}' src='{plots.pass_rates(rates)}'>"
    return f"""
<section id="a-{esc(a)}" data-assignment="{esc(a)}">
<h2>{esc(a)}</h2>
<table class=spread>
<tr><th>scored</th><th>median</th><th>quartiles</th><th>range</th><th>mean</th><th>max points</th></tr>
<tr><td class=num data-n>{sp.n}</td><td class=num data-median>{num(sp.median)}</td>
<td class=num>{num(sp.q1)} – {num(sp.q3)}</td><td class=num>{num(sp.low)} – {num(sp.high)}</td>
<td class=num>{num(sp.mean)}</td><td class=num>{num(top)}</td></tr></table>
<div class=figs>{figs}</div>
<div class=figs>
<table class=statuses><thead><tr><th>notebooks</th><th>count</th></tr></thead><tbody>{status_rows}</tbody></table>
<table class=rates><thead><tr><th>item</th><th>passed</th><th>of</th><th>rate</th>
<th title="written answers not graded yet, cells not run">not run</th></tr></thead><tbody>{rate_rows}</tbody></table>
<table class=slowest><thead><tr><th>slowest notebooks</th><th>clean room</th></tr></thead>
<tbody>{slow_rows}</tbody></table>
</div>
<h3>What the class got wrong</h3>
{mistakes_table(kept, with_assignment=False, left=left)}
</section>"""


def students_table(data: ClassData) -> str:
    head = "<th><button>student</button></th><th><button>total</button></th>" + "".join(
        f"<th><button>{esc(a)}</button></th><th><button>status</button></th>" for a in data.assignments)
    body = []
    for s in data.students:
        subs = [data.submissions[(s, a)] for a in data.assignments]
        total = sum(x.score or 0.0 for x in subs)
        cells = [cell(f"<code>{esc(s)}</code>", s), cell(f"{total:g}", total, "num")]
        for x in subs:
            shown = "–" if x.score is None else f"{x.score:g}"
            if x.feedback:
                shown = f'<a href="{esc(x.feedback)}">{esc(shown)}</a>'
            cells.append(cell(shown, -1 if x.score is None else x.score, "num"))
            title = f' title="{esc(x.message)}"' if x.message else ""
            cells.append(f'<td data-sort="{esc(x.status)}" class="status-{esc(x.status)}"{title}>'
                         f'{esc(x.status.replace("_", " "))}</td>')
        body.append(f'<tr data-student="{esc(s)}">{"".join(cells)}</tr>')
    return (f"<table class=sortable id=students><thead><tr>{head}</tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table>")


def render(data: ClassData, generated: str) -> str:
    submitted = sum(1 for x in data.submissions.values() if x.status != NOT_SUBMITTED)
    nav = " · ".join(f'<a href="#a-{esc(a)}">{esc(a)}</a>' for a in data.assignments)
    sections = "".join(assignment_section(data, a) for a in data.assignments)
    return f"""<!DOCTYPE html>
<html lang=en><head><meta charset=utf-8>
<meta http-equiv="Content-Security-Policy" content="{csp()}">
<meta name=viewport content="width=device-width,initial-scale=1">
<title>Class report</title><style>{STYLE}</style></head>
<body>
<h1>Class report</h1>
<p class=muted>{len(data.students)} students, {submitted} notebooks submitted, {len(data.assignments)} assignments ·
generated {esc(generated)} from the gradebook and reports/checks.csv · {nav} · <a href="#students">students</a></p>
<h2>Cover next class</h2>
<p class=muted>The mistakes shared by the most students (messages that differ only in numbers are one mistake;
functions not implemented yet are listed under their assignment, not here).</p>
{mistakes_table(wrong.next_class(data), with_assignment=True)}
{sections}
<h2 id=students>Students</h2>
<p class=muted>Click a column to sort. Scores link to the student's feedback page.</p>
{students_table(data)}
<script>{SCRIPT}</script>
</body></html>
"""
