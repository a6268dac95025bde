"""The README's tour, pasted into terminals as a user would, against a live server.

The tour's fenced blocks say what they are in their info string: `sh tour` is pasted
into the main terminal (one shell, so `TOKEN` and `CODE` carry over), `sh tour listen`
runs in a terminal of its own until stopped, and `python chat.py` or `js chat.mjs` is a
file to save. The only change made to them is the server's address.
"""

import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.server import cli_env, open_subscriptions, run_cli, running_server
from tests.support.wait import wait_until

README = Path(__file__).parents[2] / "README.md"
ADDRESS = "127.0.0.1:8000"
FENCE = re.compile(r"^```(\w+)([^\n]*)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
SAID = "ann: Hello, room!"
SETTLE_SECONDS = 120.0  # a listener's block installs its client first (pip, npm)


@dataclass(frozen=True)
class Block:
    language: str
    words: tuple[str, ...]
    text: str


def tour_blocks() -> list[Block]:
    """The fenced blocks of the README's "A tour" section, in order."""
    text = README.read_text()
    start = text.index("\n## A tour\n")
    section = text[start : text.index("\n## ", start + 1)]
    return [
        Block(language, tuple(info.split()), body)
        for language, info, body in FENCE.findall(section)
    ]


class Terminal:
    """One interactive bash: blocks are pasted in, their output read back."""

    def __init__(self, cwd: Path, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            ["bash", "--noprofile", "--norc"],
            cwd=cwd,
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)

    def paste(self, text: str, timeout: float = 60.0) -> str:
        """Run `text` as if pasted; its output once the shell is back at its prompt."""
        marker = f"--- pasted block done {time.monotonic_ns()} ---"
        assert self.process.stdin is not None
        self.process.stdin.write(f"{text}\necho; echo '{marker}'\n")
        self.process.stdin.flush()
        output: list[str] = []
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                pytest.fail(f"the block did not finish in {timeout} s:\n{text}\n{''.join(output)}")
            if line.rstrip("\n") == marker:
                return "".join(output)
            output.append(line)

    def close(self) -> None:
        """Stop the shell and whatever it still runs, as closing the terminal would."""
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=15)
        self.reader.join(timeout=15)
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()


class Listener:
    """A `listen` block running in a terminal of its own; what it printed so far."""

    def __init__(self, text: str, cwd: Path, env: dict[str, str]) -> None:
        self.terminal = Terminal(cwd, env)
        assert self.terminal.process.stdin is not None
        self.terminal.process.stdin.write(text + "\n")
        self.terminal.process.stdin.flush()
        self.output: list[str] = []

    def printed(self) -> str:
        while not self.terminal.lines.empty():
            self.output.append(self.terminal.lines.get())
        return "".join(self.output)


def assert_answers_are_clean(output: str) -> None:
    """No GraphQL error and no userError in what the block printed."""
    assert '"errors"' not in output, output
    assert re.findall(r'"userErrors":\[(.*?)\]', output) == [""] * output.count('"userErrors"'), (
        output
    )


def test_the_readme_tour_works_when_pasted_into_terminals(tmp_path: Path) -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("the tour's graphql-ws listener needs Node.js and npm")
    blocks = tour_blocks()
    kinds = [(b.language, b.words) for b in blocks]
    assert kinds == [
        ("sh", ("tour",)),
        ("python", ("chat.py",)),
        ("sh", ("tour", "listen")),
        ("js", ("chat.mjs",)),
        ("sh", ("tour", "listen")),
        ("sh", ("tour",)),
    ], "the tour's shape changed: update this test with it"

    server_env = cli_env(tmp_path)
    assert run_cli("migrate", env=server_env, cwd=tmp_path).returncode == 0
    folder = tmp_path / "tour"
    folder.mkdir()
    (folder / ".venv").symlink_to(sys.prefix)  # the checkout's .venv, as the README assumes
    user_env = {k: v for k, v in os.environ.items() if not k.startswith(("GRAPHQL_API_", "PYTEST"))}

    with running_server(server_env, tmp_path) as url:
        here = url.removeprefix("http://")
        for block in blocks:
            if block.language != "sh":
                (folder / block.words[0]).write_text(block.text.replace(ADDRESS, here))
        terminal = Terminal(folder, user_env)
        listeners: list[Listener] = []
        try:
            first = terminal.paste(blocks[0].text.replace(ADDRESS, here))
            assert_answers_are_clean(first)
            assert '"username":"ann"' in first
            assert '"title":"Kettle"' in first
            assert '"name":"general"' in first
            assert re.search(r"^HTTP/1.1 302 Found\r?$", first, re.M), first
            assert re.search(r"^location: https://example.com/docs\r?$", first, re.M), first

            for block in blocks:
                if block.words == ("tour", "listen"):
                    listeners.append(Listener(block.text.replace(ADDRESS, here), folder, user_env))
            wait_until(
                lambda: open_subscriptions(url, "chatEvents"),
                lambda n: n >= len(listeners),
                within=SETTLE_SECONDS,
                interval=0.2,
                what=lambda: [ln.printed() for ln in listeners],
            )

            last = terminal.paste(blocks[-1].text.replace(ADDRESS, here))
            assert_answers_are_clean(last)
            wait_until(
                lambda: all(SAID in ln.printed() for ln in listeners),
                within=15,
                interval=0.1,
                what=lambda: [ln.printed() for ln in listeners],
            )
        finally:
            for listener in listeners:
                listener.terminal.close()
            terminal.close()
