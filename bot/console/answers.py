"""One input block of a modal, and a typed answer turned into Slack's view state.

Slack has no element for passwords: our forms mark them by block id, in one place
(`handlers.common.payloads.PASSWORD_FIELDS`, which also keeps their spaces), and so does
the console. Each answer becomes the value Slack puts in `view.state.values` for that
element type (`plain_text_input` value, `selected_option(s)`, `file_input` files), and a
bad answer is one line (`AnswerError`) after which the same field is asked again, as
Slack's own client refuses to submit a required field left empty.
"""

from __future__ import annotations

from typing import Any

from bot.console.local_files import (
    MAX_FILES,
    FileHost,
    LocalFileError,
    host_files,
    read_local_files,
)
from bot.console.render import mrkdwn
from handlers.common.payloads import PASSWORD_FIELDS

# Slack's own limit for a plain_text_input when the element sets no max_length.
MAX_TEXT = 3000
SELECTS = frozenset({"static_select", "radio_buttons"})
YES = frozenset({"y", "yes"})
NO = frozenset({"n", "no"})


class AnswerError(ValueError):
    """One line for the person; the field is asked again."""


def _text(obj: Any) -> str:
    return mrkdwn(str(obj.get("text", ""))) if isinstance(obj, dict) else ""


class Field:
    """An input block: its ids, label, hint, element type and options."""

    def __init__(self, block: dict[str, Any]) -> None:
        self.block = block
        self.element: dict[str, Any] = block["element"]

    @staticmethod
    def is_input(block: Any) -> bool:
        return (
            isinstance(block, dict)
            and block.get("type") == "input"
            and isinstance(block.get("element"), dict)
        )

    @property
    def block_id(self) -> str:
        return str(self.block.get("block_id", ""))

    @property
    def action_id(self) -> str:
        return str(self.element.get("action_id", ""))

    @property
    def kind(self) -> str:
        return str(self.element.get("type", ""))

    @property
    def label(self) -> str:
        return _text(self.block.get("label"))

    @property
    def hint(self) -> str:
        return _text(self.block.get("hint"))

    @property
    def optional(self) -> bool:
        return bool(self.block.get("optional"))

    @property
    def dispatch(self) -> bool:
        return bool(self.block.get("dispatch_action"))

    @property
    def is_password(self) -> bool:
        return self.kind == "plain_text_input" and self.block_id in PASSWORD_FIELDS

    @property
    def options(self) -> list[dict[str, Any]]:
        return [o for o in self.element.get("options") or [] if isinstance(o, dict)]

    @property
    def max_files(self) -> int:
        return int(self.element.get("max_files") or MAX_FILES)

    def question(self, state: dict[str, Any] | None, error: str | None = None) -> str:
        """What the console shows before reading the answer to this field."""
        head = self.label + ("" if self.optional else " (required)")
        lines = [head]
        if self.hint:
            lines.append(f"  {self.hint}")
        if error:
            lines.append(f"  ! {error}")
        lines += self._how(state or {})
        return "\n".join(lines)

    def _how(self, state: dict[str, Any]) -> list[str]:
        if self.kind in SELECTS:
            chosen = (state.get("selected_option") or {}).get("value")
            lines = [
                f"  {i}) {_text(o.get('text'))}"
                + ("   <- chosen" if o.get("value") == chosen else "")
                for i, o in enumerate(self.options, 1)
            ]
            keep = "Enter keeps the one chosen." if chosen else ""
            return [*lines, f"  Type a number from 1 to {len(self.options)}. {keep}".rstrip()]
        if self.kind == "checkboxes":
            ticked = {o.get("value") for o in state.get("selected_options") or []}
            if len(self.options) == 1:
                mark = "y" if self.options[0].get("value") in ticked else "n"
                return [f"  {_text(self.options[0].get('text'))}? y/n (Enter keeps {mark})"]
            lines = [
                f"  {i}) [{'x' if o.get('value') in ticked else ' '}] {_text(o.get('text'))}"
                for i, o in enumerate(self.options, 1)
            ]
            return [*lines, "  Type the numbers to tick (0 for none); Enter keeps these."]
        if self.kind == "file_input":
            names = [str(f.get("name", "")) for f in state.get("files") or []]
            keep = f"Enter keeps: {', '.join(names)}" if names else "Enter leaves it empty."
            return [f"  Local file paths (at most {self.max_files}). {keep}"]
        if self.kind == "plain_text_input":
            value = state.get("value")
            if self.is_password:  # what Enter does, never the value itself
                keeps = "keeps what you typed before" if value else "leaves it empty"
                return [f"  Typed without echo. Enter {keeps}."]
            if value:
                return [f"  Enter keeps: {value}"]
            return []
        return [f"  (a {self.kind} input: the console cannot fill it; Enter goes on)"]


def initial_state(element: dict[str, Any]) -> dict[str, Any]:
    """The state Slack reports for an element nobody touched: its initial value, if any."""
    kind = str(element.get("type", ""))
    if kind in SELECTS:
        return {"type": kind, "selected_option": element.get("initial_option")}
    if kind == "checkboxes":
        return {"type": kind, "selected_options": list(element.get("initial_options") or [])}
    if kind == "file_input":
        return {"type": kind, "files": []}
    return {"type": kind, "value": element.get("initial_value")}


def _filled(state: dict[str, Any] | None) -> bool:
    state = state or {}
    return bool(
        state.get("value")
        or state.get("selected_option")
        or state.get("selected_options")
        or state.get("files")
    )


def parse_answer(
    field: Field, line: str, state: dict[str, Any] | None, host: FileHost
) -> dict[str, Any] | None:
    """The new state for `field` from the line typed; None keeps the current state (Enter).

    Raises AnswerError (one line) for an answer the field cannot take.
    """
    typed = line.rstrip("\r\n")
    if not typed.strip():
        if not field.optional and not _filled(state) and field.kind in _ANSWERS:
            raise AnswerError(f"{field.label} is required.")
        return None
    parse = _ANSWERS.get(field.kind)
    if parse is None:
        return None  # an element the console cannot fill: left as the bot set it
    return parse(field, typed, host)


def _text_answer(field: Field, typed: str, host: FileHost) -> dict[str, Any]:
    value = typed if field.is_password else typed.strip()
    limit = int(field.element.get("max_length") or MAX_TEXT)
    if len(value) > limit:
        raise AnswerError(f"{len(value)} characters: at most {limit} fit in {field.label}.")
    least = int(field.element.get("min_length") or 0)
    if len(value) < least:
        raise AnswerError(f"At least {least} characters in {field.label}.")
    return {"type": field.kind, "value": value}


def _number(text: str, count: int) -> int:
    """The option number typed, 1-based, checked against the options there are."""
    if not text.isdigit() or not 1 <= int(text) <= count:
        raise AnswerError(f"{text!r} is not an option: type a number from 1 to {count}.")
    return int(text)


def _select_answer(field: Field, typed: str, host: FileHost) -> dict[str, Any]:
    options = field.options
    if not options:
        raise AnswerError(f"{field.label} has no option to choose.")
    chosen = options[_number(typed.strip(), len(options)) - 1]
    return {"type": field.kind, "selected_option": chosen}


def _boxes_answer(field: Field, typed: str, host: FileHost) -> dict[str, Any]:
    options = field.options
    text = typed.strip().lower()
    if len(options) == 1:
        if text not in YES | NO:
            raise AnswerError("Type y or n.")
        return {"type": field.kind, "selected_options": options if text in YES else []}
    if text == "0":
        return {"type": field.kind, "selected_options": []}
    numbers = {_number(word, len(options)) for word in text.replace(",", " ").split()}
    return {"type": field.kind, "selected_options": [options[n - 1] for n in sorted(numbers)]}


def _files_answer(field: Field, typed: str, host: FileHost) -> dict[str, Any]:
    try:
        files = read_local_files(typed, max_files=field.max_files)
    except LocalFileError as error:
        raise AnswerError(str(error)) from None
    return {"type": field.kind, "files": host_files(host, files)}


_ANSWERS = {
    "plain_text_input": _text_answer,
    "static_select": _select_answer,
    "radio_buttons": _select_answer,
    "checkboxes": _boxes_answer,
    "file_input": _files_answer,
}
