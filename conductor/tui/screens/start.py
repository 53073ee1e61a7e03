"""The start form: model, recipe, tasks, threshold, calibration size, eval limit, provider, or a release YAML.

Empty fields keep the release file's value (or the default shown as a placeholder); the form is
validated by the core's `load_config`, and its ConfigError is shown inline under the form, with
the offending field marked.
"""

from __future__ import annotations

import re
from typing import Any, Optional

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Select, Static

from conductor.engine.config import DEFAULT_TASKS, EMBEDDED_MODEL, ConfigError, ReleaseConfig, load_config

PROVIDERS = ["auto", "autopilot", "anthropic", "scripted"]
FIELDS = [  # (id, label, placeholder)
    ("model", "Model", f"{EMBEDDED_MODEL}  (or a HF checkpoint directory)"),
    ("recipe", "Recipe", "fp8  (fp8, int8_sq, int4_awq, nvfp4, or a recipe file)"),
    ("tasks", "Tasks", ", ".join(DEFAULT_TASKS) + "  (comma-separated)"),
    ("threshold", "Threshold", "0.01  (allowed drop, fraction of the score's scale)"),
    ("calib_size", "Calib size", "64  (calibration samples)"),
    ("eval_limit", "Eval limit", "whole tasks  (samples per task; 10 for a quick look)"),
    ("release", "Release YAML", "path/to/release.yaml  (fields above override it)"),
]


def form_overrides(values: dict[str, str], provider: Optional[str]) -> tuple[Optional[str], dict[str, Any]]:
    """(yaml path, overrides) from the raw form values; empty fields are left out."""
    over: dict[str, Any] = {}
    for key in ("model", "recipe"):
        if values.get(key, "").strip():
            over[key] = values[key].strip()
    if values.get("tasks", "").strip():
        over["tasks"] = [t.strip() for t in values["tasks"].split(",")]
    thr = values.get("threshold", "").strip()
    if thr:
        try:
            over["threshold"] = float(thr[:-1]) / 100 if thr.endswith("%") else float(thr)
        except ValueError:
            over["threshold"] = thr  # the config reports it, naming the field
    for key, target in (("calib_size", "calib_size"), ("eval_limit", "eval.limit")):
        raw = values.get(key, "").strip()
        if raw:
            try:
                over[target] = int(raw)
            except ValueError:
                over[target] = raw  # the config reports it, naming the field
    if provider and provider != "auto":
        over["provider"] = provider
    release = values.get("release", "").strip() or None
    return release, over


def field_of(message: str) -> Optional[str]:
    """The form field a ConfigError sentence names, if any."""
    m = re.search(r"field '([\w.]+)'", message)
    if m:
        name = m.group(1)
        if name.startswith("eval.limit"):
            return "eval_limit"
        head = name.split(".")[0]
        return head if head in {f for f, _, _ in FIELDS} | {"provider"} else None
    if "release file" in message:
        return "release"
    return None


class StartScreen(Screen):
    BINDINGS = [Binding("ctrl+s", "start", "Start run", priority=True), Binding("ctrl+q", "app.quit", "Quit")]
    DEFAULT_CSS = """
    StartScreen { align: center top; }
    StartScreen #form { width: 90; max-width: 100%; height: 1fr; padding: 0 1; }
    StartScreen .heading { text-style: bold; color: $accent; margin: 1 0 0 0; }
    StartScreen .row { height: 1; margin-bottom: 1; }
    StartScreen .row Label { width: 14; padding: 0 1 0 0; text-align: right; }
    StartScreen .row Input.-invalid { background: $error 30%; }
    StartScreen .row Input, StartScreen .row Select { width: 1fr; }
    StartScreen #error { color: $error; text-style: bold; height: auto; margin: 0 0 0 14; }
    StartScreen #buttons { height: 1; margin-left: 14; }
    StartScreen #buttons Button { margin-right: 2; }
    """

    class Submitted(Message):
        def __init__(self, config: ReleaseConfig) -> None:
            super().__init__()
            self.config = config

    def __init__(self, *, cursor_blink: bool = True, error: str = ""):
        super().__init__()
        self._blink = cursor_blink
        self._initial_error = error

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="form"):
            yield Static(Content.assemble(("conductor", "bold $accent"),
                                          (" · release a quantized checkpoint; gates decide, you can steer",
                                           "$text-muted")),
                         classes="heading")
            for fid, label, placeholder in FIELDS:
                with Horizontal(classes="row"):
                    yield Label(label)
                    inp = Input(placeholder=placeholder, id=fid, compact=True)
                    inp.cursor_blink = self._blink
                    yield inp
            with Horizontal(classes="row"):
                yield Label("Provider")
                yield Select([(p, p) for p in PROVIDERS], value="auto", allow_blank=False, id="provider", compact=True)
            yield Static(Content(self._initial_error), id="error")
            with Horizontal(id="buttons"):
                yield Button("Start ^s", id="start", variant="success", compact=True)
                yield Button("Quit ^q", id="quit", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#model", Input).focus()

    def validate(self) -> Optional[ReleaseConfig]:
        """The config the form describes, or None with the error shown inline."""
        values = {fid: self.query_one(f"#{fid}", Input).value for fid, _, _ in FIELDS}
        provider = self.query_one("#provider", Select).value
        release, over = form_overrides(values, provider if isinstance(provider, str) else None)
        for w in self.query(".row Input, .row Select"):
            w.remove_class("-invalid")
        try:
            cfg = load_config(yaml_path=release, overrides=over)
        except ConfigError as exc:
            self.show_error(str(exc))
            return None
        self.show_error("")
        return cfg

    def show_error(self, message: str) -> None:
        self.query_one("#error", Static).update(Content(message))
        fid = field_of(message) if message else None
        if fid:
            w = self.query_one(f"#{fid}")
            w.add_class("-invalid")
            w.focus()

    def action_start(self) -> None:
        cfg = self.validate()
        if cfg is not None:
            self.post_message(self.Submitted(cfg))

    @on(Input.Submitted)
    def _enter(self, _: Input.Submitted) -> None:
        self.action_start()

    @on(Button.Pressed, "#start")
    def _start(self) -> None:
        self.action_start()

    @on(Button.Pressed, "#quit")
    def _quit(self) -> None:
        self.app.exit(0)
