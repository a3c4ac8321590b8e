"""Helpers for browser tests: a real Streamlit server on a free port and Debian's Chromium.

The rule: a browser test never sleeps. It waits for the element or the state it needs, and every
wait has a timeout that fails the test:

* the server is ready when it prints its address (:func:`start_app`);
* a text or element: ``expect(locator).to_be_visible()`` or ``locator.first.wait_for()``; one that
  must go: ``expect(locator).to_have_count(0)``; an address: ``page.wait_for_url``;
* the app is idle (:func:`wait_idle`): the ``stApp`` element's ``data-test-script-state`` is
  ``notRunning`` (Streamlit 1.67), every rerun the tab asked of the server has finished since, and no
  loading placeholder is left. The login cookie component asks for reruns of its own after a page
  has drawn; this waits for those too, so nothing redraws the page under a test's typing;
* an action's own run (:func:`a_run`): idle first, then the action, then idle again after a run
  that finished after the action. Use it where no element tells the new state from the old (a
  pick that must hold, a click after which nothing may move).

While a page reruns, Streamlit keeps the last run's elements until the new run replaces them, so a
text can be on the page twice for a moment: waits for a text use ``.first``, and checks that a text
is gone use ``to_have_count(0)``, which waits.
"""

from __future__ import annotations

import collections
import contextlib
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

from playwright.sync_api import TimeoutError as PlaywrightTimeoutError

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]

# Watches, in the top window, Streamlit's websocket: the reruns the tab asks for (BackMsg
# rerun_script, field 11), the runs the server starts (ForwardMsg new_session, field 4) and ends
# (script_finished, field 6), each stamped with one sequence so that their order is known. A run
# counts as ended two drawn frames after its script_finished message arrived: Streamlit has drawn
# it by then. A short run sets the stApp element's script state to running and back within one
# frame, so that state alone can miss a run (seen: a 10 ms run after the login cookie's answer).
#
# In a custom component's frame (the login cookie's), it acknowledges each render the frame has
# handled, after the component's own answer: a component has answered once its frame has received
# a render and the top window has its acknowledgement. A new component frame loads for a while
# (0.2 s seen) after the run that drew it, and only then answers with a rerun.
_RUNS_JS = """(() => {
  if (window !== window.top) {
    if (window.__e2eFrame) return;
    const frame = window.__e2eFrame = {id: Math.random(), received: 0};
    window.addEventListener('message', e => {
      if (e.data && e.data.type === 'streamlit:render') {
        frame.received++;
        setTimeout(() => setTimeout(() => window.parent.postMessage({type: 'e2e:rendered', id: frame.id}, '*')));
      }
    });
    return;
  }
  if (window.__e2eRuns) return;
  const runs = window.__e2eRuns = {seq: 0, finished: 0, lastAsked: 0, lastStarted: 0, lastFinished: 0, acked: {},
                                   frames: document.readyState === 'loading'};  // from the load: frames watched too
  const varint = (b, i) => {
    let v = 0, shift = 0, x;
    do { x = b[i++]; v += (x & 127) * 2 ** shift; shift += 7; } while (x & 128 && i < b.length);
    return [v, i];
  };
  const field = b => {  // the message's type: its first field other than hash (1) and metadata (2)
    let i = 0, tag, n;
    while (i < b.length) {
      [tag, i] = varint(b, i);
      if (tag >> 3 !== 1 && tag >> 3 !== 2) return tag >> 3;
      if ((tag & 7) === 0) [, i] = varint(b, i);
      else if ((tag & 7) === 2) { [n, i] = varint(b, i); i += n; }
      else return 0;
    }
    return 0;
  };
  const bytes = d => d instanceof ArrayBuffer ? new Uint8Array(d)
    : ArrayBuffer.isView(d) ? new Uint8Array(d.buffer, d.byteOffset, d.byteLength) : null;
  const heard = e => {
    const b = bytes(e.data), f = b && field(b);
    if (f === 4) runs.lastStarted = ++runs.seq;
    if (f === 6) {
      const at = ++runs.seq;
      requestAnimationFrame(() => requestAnimationFrame(() => {
        runs.finished++; runs.lastFinished = Math.max(runs.lastFinished, at);
      }));
    }
  };
  const send = WebSocket.prototype.send;
  WebSocket.prototype.send = function (data) {
    if (!this.__e2eHeard) { this.__e2eHeard = true; this.addEventListener('message', heard); }
    const b = bytes(data);
    if (b && field(b) === 11) runs.lastAsked = ++runs.seq;
    return send.call(this, data);
  };
  window.addEventListener('message', e => {
    if (e.data && e.data.type === 'e2e:rendered') runs.acked[e.data.id] = (runs.acked[e.data.id] || 0) + 1;
  });
  runs.components = () => [...document.querySelectorAll("iframe[data-testid='stCustomComponentV1']")].map(f => {
    const frame = f.contentWindow && f.contentWindow.__e2eFrame;
    return frame ? [frame.received, runs.acked[frame.id] || 0] : [0, 0];
  });
})()"""

_IDLE_JS = """after => {
  const app = document.querySelector("[data-testid='stApp']"), runs = window.__e2eRuns;
  return !!app && app.getAttribute('data-test-script-state') === 'notRunning' && runs.finished > after
    && runs.lastFinished >= runs.lastAsked && runs.lastFinished >= runs.lastStarted
    && (!runs.frames || runs.components().every(([received, acked]) => received > 0 && acked === received))
    && !document.querySelector("[data-testid='stSkeleton']");
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_app(env_extra: dict[str, str], timeout: float = 60, log: Path | None = None,
              script: str = "app.py", serve: bool = False, port: int | None = None) -> tuple[subprocess.Popen, str]:
    """Start `streamlit run app.py` (or ``script``, relative to the project) on 127.0.0.1 and wait
    until the server prints its address, which it does once it serves. With ``serve``, start it as
    a replica does: `python -m readiness serve` (which runs app.py with the shared secrets). On
    ``port`` when given (a replica restarted where the load balancer expects it), else a free one.

    The server's output is read all the while (a pipe nobody reads would fill and stall it) and goes
    to ``log`` when given; without one, its last lines are shown if the start fails.
    """
    port = port or _free_port()
    env = {**os.environ, **env_extra}
    argv = ([sys.executable, "-m", "readiness", "serve", "--port", str(port), "--", "--server.fileWatcherType", "none"]
            if serve else
            [sys.executable, "-m", "streamlit", "run", script, "--server.headless", "true",
             "--server.address", "127.0.0.1", "--server.port", str(port), "--browser.gatherUsageStats", "false",
             "--server.fileWatcherType", "none"])
    proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    serving = threading.Event()
    tail: collections.deque[bytes] = collections.deque(maxlen=40)

    def read_output() -> None:
        with log.open("ab") if log else contextlib.nullcontext() as sink:
            for line in proc.stdout:
                tail.append(line)
                if sink:
                    sink.write(line)
                    sink.flush()
                if url.encode() in line:
                    serving.set()
        serving.set()  # the server ended: the waiter finds out below

    threading.Thread(target=read_output, daemon=True).start()
    if serving.wait(timeout) and proc.poll() is None:
        return proc, url
    proc.kill()
    raise RuntimeError(f"streamlit did not start serving: {b''.join(tail).decode(errors='replace')[-2000:]}")


def track_runs(page) -> None:
    """Watch the page's runs and components from its next load on (:func:`login` does this; call it
    before ``page.goto`` for a page opened otherwise). A page not watched from its load is watched
    from its first wait on, its runs only."""
    page.add_init_script(_RUNS_JS)


def _finished(page) -> int:
    page.evaluate(_RUNS_JS)  # a page not tracked from its load: from now on
    return page.evaluate("window.__e2eRuns.finished")


def wait_idle(page, timeout: float = 60_000, after: int = -1) -> None:
    """Wait until the app is idle: the script run finished, every rerun the tab asked for has run,
    no loading placeholder is left (and, with ``after``, more than ``after`` runs have finished).

    Right after an action its run may not have started yet, and the app still looks idle: wait for
    the element the action brings, or use :func:`a_run`.
    """
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)
    _finished(page)
    try:
        page.wait_for_function(_IDLE_JS, arg=after, timeout=timeout)
    except PlaywrightTimeoutError:
        state = page.evaluate("[document.querySelector(\"[data-testid='stApp']\")?.getAttribute("
                              "'data-test-script-state'), window.__e2eRuns, window.__e2eRuns.components()]")
        raise AssertionError(f"the app did not become idle (after {after} runs): script state, runs and "
                             f"components' renders (received, answered) {state}") from None


@contextlib.contextmanager
def a_run(page, timeout: float = 60_000):
    """``with a_run(page): <action>``: the app idle before the action, then idle again after a run
    that finished after the action began (the action must make the app rerun)."""
    wait_idle(page, timeout)
    before = _finished(page)
    yield
    wait_idle(page, timeout, after=before)


def snapshot_dir() -> Path:
    d = ROOT / "tests" / "e2e" / "screenshots"
    d.mkdir(exist_ok=True)
    return d


def login(page, url: str, user: str, password: str, path: str = "") -> None:
    """Open ``url/path``, fill the login form and submit; wait until the app answers: the app
    ("Signed in as") or a refusal.

    The form is filled once the app is idle: the login cookie component's first answer has been
    run, so no rerun redraws the form between typing and clicking.
    """
    track_runs(page)
    page.goto(f"{url}/{path}")
    wait_idle(page)
    page.get_by_label("User name").fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Log in").click()
    page.locator("text=/Signed in as|Wrong user name|Too many failed/").first.wait_for(timeout=60_000)


def main_text(page) -> str:
    """The main area's text, including table cells (st.dataframe draws on a canvas and keeps its cells
    as hidden DOM text)."""
    wait_idle(page)
    return page.locator("[data-testid='stMain']").text_content()


def nav(page, name: str):
    """The sidebar navigation's link to a page (review pages also show their steps as links)."""
    return page.get_by_test_id("stSidebarNav").get_by_role("link", name=name, exact=True)
