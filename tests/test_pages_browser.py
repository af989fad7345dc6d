"""Does a student's HTML ever run in the pages TAs and students open? Checked in Chromium.

A class holding `intake-xss` (autograder/corpus/attacks_intake.py: scripts in a written
answer and in outputs, each setting window.pwned and the title) and an honest student is
graded through `make grade`; its feedback page and formgrader's rendering of the written
answer (formgrader's own exporter and template, configured as formgrader configures them
from the course's nbgrader_config.py) are loaded in headless Chromium, every link clicked and
every element hovered. The same payloads rendered without the kit's protections do run: the
check can fail.
"""
from __future__ import annotations

import json
from urllib.parse import urldefrag

import pytest

from autograder.corpus.attacks_intake import A, PNG

pytestmark = [pytest.mark.browser, pytest.mark.slow]  # chromium, on a class graded by make grade
POKE_MS = 2000  # bounds one forced hover or click (they do not wait; a busy renderer may)


@pytest.fixture(scope="module")
def graded(shared_class):
    """The shared class (conftest): it holds helpers.pages_class, the XSS student and an honest one."""
    return shared_class.course


def visit(browser, html_path, uri: str | None = None) -> dict:
    """Open a page (a file, or a local server's uri) offline, poke everything a reader could
    poke; whether anything ran, and what the page shows.

    Every visible link, summary, image and button is hovered and clicked as a mouse does it
    (trusted events at the element; `force`: no wait for it to be "stable", a wait that timed out
    after 0.5 s on most elements of these pages, which then went unpoked). The page never leaves:
    a click that would load another document or open a popup (formgrader's "open the live
    notebook" link: a whole Jupyter app loading next to the page), or send a form or a grade, is
    answered "204 No Content" (the browser stays; a javascript: link still runs here), so nothing
    is reloaded between pokes and the class's gradebook is never changed.
    """
    page = browser.new_page()
    uri = uri or html_path.as_uri()
    home = None  # the page's own address, once loaded (after a login redirect)

    def leaves(request) -> bool:
        """Would this request load a new top document: another page here, or a popup?"""
        if not request.is_navigation_request():
            return False
        try:
            frame = request.frame
        except Exception:  # noqa: BLE001 (Playwright's Error: a popup's request comes before its frame)
            return True
        if frame.parent_frame is not None:
            return False  # a frame inside the page: loaded
        return frame != page.main_frame or urldefrag(request.url).url != home

    def route(route):
        request = route.request
        if not request.url.startswith(("file:", "http://127.0.0.1:")):
            route.abort()  # nothing leaves the machine; CDN scripts fail fast
        elif home and (request.method not in ("GET", "HEAD") or leaves(request)):
            route.fulfill(status=204)
        else:
            route.continue_()
    try:
        page.context.route("**/*", route)  # the context's: popups too
        page.goto(uri, wait_until="load")
        page.wait_for_timeout(200)
        ran = _ran(page)
        home = urldefrag(page.url).url
        for selector in ("a", "summary", "img", "button"):
            for k in range(min(page.locator(selector).count(), 40)):
                element = page.locator(selector).nth(k)
                try:
                    if element.is_visible():  # no reader can poke a hidden one
                        element.hover(force=True, timeout=POKE_MS)
                        element.click(force=True, timeout=POKE_MS, no_wait_after=True)
                except Exception:  # noqa: BLE001 (detached by the page's own script)
                    pass
                if len(page.context.pages) > 1:  # a popup (blank): the page would be a
                    for popup in page.context.pages[1:]:  # background tab, drawn once a second
                        popup.close()
                    page.bring_to_front()
                ran = ran or _ran(page)
                if urldefrag(page.url).url != home:  # left anyway (not by a request): back
                    page.goto(home, wait_until="load")
        page.wait_for_timeout(200)
        ran = ran or _ran(page)
        return {"pwned": ran, "text": page.inner_text("body"),
                "bold": page.locator("b", has_text="the kink").count(),
                "table": page.locator("td", has_text="left").count(),
                "image": page.evaluate("(() => { const i = document.querySelector('img[alt=honest-image]');"
                                       " return i ? i.naturalWidth : -1 })()")}
    finally:
        page.close()


def _ran(page) -> bool:
    """Did a payload run (each sets window.pwned and the title)?"""
    try:
        return bool(page.evaluate("window.pwned === 1 || document.title === 'PWNED'"))
    except Exception:  # noqa: BLE001 (navigating: ask again after)
        page.wait_for_load_state("load")
        return bool(page.evaluate("window.pwned === 1 || document.title === 'PWNED'"))


def test_feedback_page_runs_no_student_script_and_shows_the_honest_answer(browser, graded):
    seen = visit(browser, graded / "feedback" / "intake-xss" / A / f"{A}.html")
    assert not seen["pwned"]
    assert "HONEST-TEXT" in seen["text"] and seen["bold"] == 1 and seen["table"] == 1
    assert seen["image"] == 2  # a data: image still displays (2x2 pixels)
    assert "<script>" in seen["text"]  # the attempt is shown as text


def test_feedback_exporter_makes_script_outputs_inert_too(browser, graded, tmp_path):
    """Outputs are cleared by nbgrader before grading; were one kept, it would still not run."""
    from autograder.grading.feedbackhtml import QuickHTMLExporter
    page = tmp_path / "with-outputs.html"
    page.write_text(QuickHTMLExporter().from_filename(str(_submitted(graded)))[0])
    seen = visit(browser, page)
    assert not seen["pwned"] and "HONEST-TEXT" in seen["text"]


def test_the_payloads_run_without_the_kits_protections(browser, graded, tmp_path):
    """The control: nbconvert's plain HTMLExporter on the same notebook runs them."""
    from nbconvert.exporters import HTMLExporter
    page = tmp_path / "plain.html"
    page.write_text(HTMLExporter().from_filename(str(_submitted(graded)))[0])
    assert visit(browser, page)["pwned"]


def _submitted(course):
    return course / "submitted" / "intake-xss" / A / f"{A}.ipynb"


def formgrader_page(course, out, kit_config: bool = True):
    """What formgrader's SubmissionHandler writes for this submission: its HTMLExporter, with
    the config FormgradeExtension loads (the course's nbgrader_config.py) and its template."""
    from nbconvert.exporters import HTMLExporter
    from nbgrader.server_extensions.formgrader import handlers
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader
    config = PyFileConfigLoader("nbgrader_config.py", path=str(course)).load_config() if kit_config else Config()
    extra = Config()
    extra.HTMLExporter.template_name = "formgrade"
    extra.HTMLExporter.extra_template_basedirs = [handlers.template_path]
    config.merge(extra)
    resources = {"assignment_id": A, "notebook_id": A, "submission_id": "x", "index": 0, "total": 1,
                 "base_url": "/", "student": "intake-xss", "last_name": None, "first_name": None,
                 "notebook_path": f"autograded/intake-xss/{A}/{A}.ipynb"}
    notebook = course / "autograded" / "intake-xss" / A / f"{A}.ipynb"
    html, _ = HTMLExporter(config=config).from_filename(str(notebook), resources=resources)
    out.write_text(html)
    return out


def test_formgrader_rendering_of_the_written_answer_runs_no_script(browser, graded, tmp_path):
    seen = visit(browser, formgrader_page(graded, tmp_path / "formgrade.html"))
    assert not seen["pwned"]
    assert "HONEST-TEXT" in seen["text"] and seen["bold"] == 1 and seen["image"] == 2


def test_formgrader_without_the_kits_config_runs_the_payload(browser, graded, tmp_path):
    """The control: formgrader as nbgrader ships it renders the written answer live."""
    assert visit(browser, formgrader_page(graded, tmp_path / "formgrade-plain.html", kit_config=False))["pwned"]


def test_the_honest_students_page_is_unchanged_in_what_it_shows(browser, graded):
    seen = visit(browser, graded / "feedback" / "ok-reference" / A / f"{A}.html")
    assert not seen["pwned"] and "svm_loss_naive" in seen["text"]
    assert PNG not in json.dumps(seen)  # nothing of the attack's page leaked into another's


@pytest.fixture()
def formgrader(graded):
    """nbgrader's formgrader, served by jupyter server from the course root on 127.0.0.1."""
    import os
    import socket
    import subprocess
    import sys
    import time
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    token = os.urandom(8).hex()
    jupyter = os.path.join(os.path.dirname(sys.executable), "jupyter")
    server = subprocess.Popen([jupyter, "server", "--no-browser", "--allow-root", f"--port={port}",
                               "--ServerApp.ip=127.0.0.1", f"--IdentityProvider.token={token}",
                               f"--ServerApp.root_dir={graded}"], cwd=graded,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and server.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.5)
        else:
            pytest.fail(f"jupyter server did not start: {server.stderr.read()[-2000:] if server.poll() is not None else 'timeout'}")
        yield f"http://127.0.0.1:{port}", token
    finally:
        server.terminate()
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def test_the_live_formgrader_page_of_the_written_answer_runs_no_script(browser, graded, formgrader):
    """The page a TA opens to grade the written answer, from formgrader itself."""
    from nbgrader.api import Gradebook
    base, token = formgrader
    with Gradebook(f"sqlite:///{graded / 'gradebook.db'}") as gb:
        submission = gb.find_submission_notebook(A, A, "intake-xss").id
    seen = visit(browser, None, f"{base}/formgrader/submissions/{submission}/?token={token}")
    assert "HONEST-TEXT" in seen["text"] and seen["bold"] == 1  # formgrader rendered the answer
    assert not seen["pwned"]
