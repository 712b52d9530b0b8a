"""Filling the bot's modals from the console, as a person fills them in Slack.

When the bot opens a modal (`views.open`), the console walks its input blocks in order:
each label, hint and initial value is shown and one answer is read per field (see
`answers.py` for how an answer becomes the value Slack would put in view state). What goes
back to the app is what Slack sends: a `block_actions` payload (with `view` and
`container`) when a `dispatch_action` input changes, a `view_submission` with the view's
id, callback id, private metadata, hash and `state.values` on submit, `view_closed` when
the person cancels a view that asked for it (`notify_on_close`). The ack's
`response_action` (errors beside their fields, update, push, clear) and the bot's later
`views.update` / `views.push` calls are followed, so the console shows what the modal
would show next.

The walk is driven one line at a time (the session's line loop hands it each answer), so
it never reads the terminal itself: a password field only says it wants a hidden answer
(`secret`), and the loop reads that line without echo (`prompts.read_answer`).
"""

from __future__ import annotations

import copy
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.console.answers import AnswerError, Field, initial_state, parse_answer
from bot.console.local_files import FileHost
from bot.console.render import block_lines, mrkdwn
from bot.console.sender import Sent
from bot.console.slack_api import BOT_ID, TEAM_ID, Call

VIEW_METHODS = frozenset({"views.open", "views.update", "views.push"})
CANCEL = "/cancel"
FORM_HELP = (
    "Answer each field: Enter keeps the value shown in [brackets], a number picks an "
    "option, y/n ticks a checkbox, a file field takes local paths (quoted if they hold "
    "spaces). /cancel closes the form."
)
_view_ids = itertools.count(1)


class FormLink(Protocol):
    """What a walk needs from the console session: who is acting, a way to send an
    interaction and wait for the work it starts, the text of what the bot did meanwhile,
    and the stand-in that hosts the files of a file input."""

    @property
    def user_id(self) -> str: ...

    @property
    def files(self) -> FileHost: ...

    def interact(self, payload: dict[str, Any]) -> tuple[Sent, list[Call]]: ...

    def show(self, sent: Sent, calls: list[Call]) -> str: ...


@dataclass
class OpenView:
    """One view on the modal's stack: as the bot built it, with its id, hash and state."""

    view: dict[str, Any]
    fields: list[Field]
    values: dict[str, dict[str, Any]]
    todo: list[int] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, view: dict[str, Any], keep: OpenView | None = None) -> OpenView:
        """A view to walk; `keep` is the view it replaces (the answers given to inputs that
        are still there are kept, as Slack keeps an input's state across an update)."""
        fields = [Field(block) for block in view.get("blocks") or [] if Field.is_input(block)]
        values: dict[str, dict[str, Any]] = {}
        for item in fields:
            kept = (keep.values.get(item.block_id) or {}).get(item.action_id) if keep else None
            answered = keep is not None and item.block_id in keep.answered()
            state = kept if answered and kept is not None else initial_state(item.element)
            values.setdefault(item.block_id, {})[item.action_id] = state
        todo = [
            index
            for index, item in enumerate(fields)
            if keep is None or item.block_id not in keep.answered()
        ]
        return cls(view, fields, values, todo)

    def answered(self) -> set[str]:
        """The block ids of the fields the person has been through."""
        return {item.block_id for i, item in enumerate(self.fields) if i not in self.todo}

    @property
    def view_id(self) -> str:
        return str(self.view.get("id", ""))

    @property
    def can_submit(self) -> bool:
        return bool(self.view.get("submit"))

    def payload_view(self, root_id: str, previous_id: str | None) -> dict[str, Any]:
        """The view as Slack puts it in an interaction payload: the bot's view with its id,
        hash and the state the person filled in."""
        return {
            **self.view,
            "type": self.view.get("type", "modal"),
            "id": self.view_id,
            "team_id": self.view.get("team_id", TEAM_ID),
            "callback_id": self.view.get("callback_id", ""),
            "private_metadata": self.view.get("private_metadata", ""),
            "hash": self.view.get("hash", ""),
            "state": {"values": copy.deepcopy(self.values)},  # as it was at this moment
            "root_view_id": root_id,
            "previous_view_id": previous_id,
            "app_id": "A0CERTOPS",
            "bot_id": BOT_ID,
        }


def opened_view(call: Call) -> dict[str, Any]:
    """The view of a `views.*` call as the stand-in answered it (with its id and hash)."""
    answered = call.answer.get("view")
    view = dict(answered) if isinstance(answered, dict) else call.view
    if not view.get("id"):
        view["id"] = str(call.params.get("view_id") or _new_view_id())
    return view


def _new_view_id() -> str:
    return f"VCONSOLE{next(_view_ids):04d}"


def _pushed(view: dict[str, Any]) -> dict[str, Any]:
    """A view the ack pushed or put in place of another: Slack gives it an id and a hash."""
    return {**view, "id": view.get("id") or _new_view_id(), "hash": f"{time.time():.6f}"}


def view_text(view: dict[str, Any]) -> str:
    """The title and the blocks that are not inputs (the inputs are asked one by one)."""
    lines = [f"[form: {mrkdwn(str((view.get('title') or {}).get('text', '')))}]"]
    for block in view.get("blocks") or []:
        if not Field.is_input(block):
            lines += block_lines(block)
    return "\n".join(lines).strip("\n")


def user_of(user_id: str) -> dict[str, str]:
    """The `user` of an interaction payload, as Slack sends it."""
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID}


class FormWalk:
    """A modal (its stack of views) being filled in, one answer per line."""

    def __init__(self, link: FormLink) -> None:
        self.link = link
        self.stack: list[OpenView] = []

    # --- what the session asks -------------------------------------------------------
    @property
    def closed(self) -> bool:
        return not self.stack

    @property
    def current(self) -> Field | None:
        top = self.stack[-1] if self.stack else None
        if top is None or not top.todo:
            return None
        return top.fields[top.todo[0]]

    @property
    def secret(self) -> bool:
        """Whether the next answer is a password (read without echo)."""
        current = self.current
        return current is not None and current.is_password

    @property
    def prompt(self) -> str:
        current = self.current
        if current is not None:
            return f"{current.label}> "
        return "submit> "

    def start(self, calls: Sequence[Call]) -> str:
        """The bot opened a modal (`views.open` among `calls`): show it, ask its first field."""
        return self._settle(self.follow(calls))

    def follow(self, calls: Sequence[Call]) -> list[str]:
        """Apply the bot's `views.*` calls to the stack; the text of each view shown."""
        shown: list[str] = []
        for call in calls:
            if call.method == "views.open":
                self.stack = [OpenView.of(opened_view(call))]
            elif call.method == "views.push" and self.stack:
                self.stack.append(OpenView.of(opened_view(call)))
            elif call.method == "views.update":
                view = opened_view(call)
                index = self._index_of(str(view.get("id", "")))
                if index is None:
                    continue  # a view already closed: Slack answers not_found, nobody sees it
                self.stack[index] = OpenView.of(view, keep=self.stack[index])
            else:
                continue
            if self.stack:
                shown.append(view_text(self.stack[-1].view))
        return shown

    def answer(self, line: str) -> str:
        """One line typed while the form is open."""
        word = line.strip()
        if word == CANCEL:
            return self.close("Form closed: nothing was submitted.")
        if word in {"/?", "/help"}:
            return f"{FORM_HELP}\n{self.question()}"
        top = self.stack[-1]
        current = self.current
        if current is None:  # a view with a submit button and no inputs: Enter submits
            if word:
                return f"Press Enter to submit, or type {CANCEL}."
            return self._submit()
        before = top.values.get(current.block_id, {}).get(current.action_id)
        try:
            state = parse_answer(current, line, before, self.link.files)
        except AnswerError as error:
            return f"{error}\n{self.question()}"
        if state is not None:
            top.values.setdefault(current.block_id, {})[current.action_id] = state
        top.todo.pop(0)
        top.errors.pop(current.block_id, None)
        changed = state is not None and state != before
        if current.dispatch and changed:
            return self._dispatch(top, current)
        if top.todo:
            return self.question()
        return self._submit()

    def end_of_input(self) -> str:
        """Input ended in the middle of the form: leave it (the console goes on)."""
        return self.close("Form left: the input ended before it was submitted.")

    def close(self, said: str) -> str:
        """The person closes the modal (its x): `view_closed` if the view asks for it."""
        root = self.stack[0] if self.stack else None
        cleared = len(self.stack) > 1
        self.stack = []
        closed = self._closed(root, cleared) if root is not None else ""
        return "\n\n".join(part for part in (said, closed) if part)

    def _closed(self, item: OpenView, cleared: bool) -> str:
        """`view_closed` for `item` when it has `notify_on_close`; what the bot did then."""
        if not item.view.get("notify_on_close"):
            return ""
        root, previous = self._ids(item) if item in self.stack else (item.view_id, None)
        payload = {
            "type": "view_closed",
            "user": user_of(self.link.user_id),
            "view": item.payload_view(root, previous),
            "is_cleared": cleared,
        }
        sent, calls = self.link.interact(payload)
        return "\n\n".join(self._other(sent, calls))

    # --- asking ---------------------------------------------------------------------
    def question(self) -> str:
        """The current field: its label, hint, value kept by Enter, options, error."""
        current = self.current
        if current is None:
            top = self.stack[-1]
            label = mrkdwn(str((top.view.get("submit") or {}).get("text", "Submit")))
            return f"Press Enter to {label}, or type {CANCEL}."
        top = self.stack[-1]
        state = top.values.get(current.block_id, {}).get(current.action_id)
        return current.question(state, top.errors.get(current.block_id))

    def _settle(self, shown: list[str]) -> str:
        """After a change of views: ask the next field, or close what only shows something."""
        while self.stack:
            top = self.stack[-1]
            if top.todo or top.can_submit:
                shown.append(self.question())
                break
            # Nothing to fill and no submit (a result): the person reads it and closes it,
            # which brings back the view below it, if any.
            shown.append(self._closed(top, False))
            self.stack.pop()
            if self.stack:
                shown.append(view_text(self.stack[-1].view))
        if not self.stack:
            shown.append("(form closed)")
        return "\n\n".join(part for part in shown if part)

    # --- sending --------------------------------------------------------------------
    def _ids(self, top: OpenView) -> tuple[str, str | None]:
        index = self.stack.index(top)
        previous = self.stack[index - 1].view_id if index > 0 else None
        return self.stack[0].view_id, previous

    def _dispatch(self, top: OpenView, item: Field) -> str:
        """A `dispatch_action` input changed: the `block_actions` Slack sends, then what
        the bot did with it (usually `views.update` of this view)."""
        root, previous = self._ids(top)
        state = top.values[item.block_id][item.action_id]
        payload = {
            "type": "block_actions",
            "user": user_of(self.link.user_id),
            "container": {"type": "view", "view_id": top.view_id},
            "view": top.payload_view(root, previous),
            "actions": [
                {
                    **state,
                    "action_id": item.action_id,
                    "block_id": item.block_id,
                    "action_ts": f"{time.time():.6f}",
                }
            ],
        }
        sent, calls = self.link.interact(payload)
        shown = self._other(sent, calls)
        shown += self.follow(calls)
        if sent.status != 200:
            shown.append(f"[error] the app answered HTTP {sent.status}")
        if self.stack and not self.stack[-1].todo and self.stack[-1].fields:
            return self._submit(shown)  # that was the last field: the person submits
        return self._settle(shown)

    def _submit(self, shown: list[str] | None = None) -> str:
        """Submit the top view: `view_submission`, then the ack and the calls followed."""
        shown = list(shown or [])
        top = self.stack[-1]
        root, previous = self._ids(top)
        payload = {
            "type": "view_submission",
            "user": user_of(self.link.user_id),
            "view": top.payload_view(root, previous),
            "response_urls": [],
            "is_enterprise_install": False,
        }
        sent, calls = self.link.interact(payload)
        if sent.status != 200:
            shown.append(f"[error] the app answered HTTP {sent.status}: the form stays open.")
            shown.append(self.question())
            return "\n\n".join(shown)
        ack = sent.json()
        shown += self._apply_ack(top, ack if isinstance(ack, dict) else {})
        shown += self._other(sent, calls)
        shown += self.follow(calls)
        return self._settle(shown)

    def _apply_ack(self, top: OpenView, ack: dict[str, Any]) -> list[str]:
        """What the ack's `response_action` does to the stack, as Slack does it."""
        action = ack.get("response_action")
        if action == "errors":
            return self._errors(top, ack.get("errors") or {})
        if action in {"update", "push"} and isinstance(ack.get("view"), dict):
            if action == "update":
                new = _pushed({**ack["view"], "id": top.view_id})
                self.stack[-1] = OpenView.of(new)
            else:
                self.stack.append(OpenView.of(_pushed(ack["view"])))
            return [view_text(self.stack[-1].view)]
        if action == "clear":
            self.stack = []
            return []
        self.stack.pop()  # a plain ack closes the view: the one below it shows again
        return [view_text(self.stack[-1].view)] if self.stack else []

    def _errors(self, top: OpenView, errors: dict[str, Any]) -> list[str]:
        """Each error beside its field; only those fields are asked again."""
        by_block = {item.block_id: index for index, item in enumerate(top.fields)}
        top.errors = {str(k): mrkdwn(str(v)) for k, v in errors.items() if k in by_block}
        top.todo = sorted(by_block[block] for block in top.errors)
        lines = [f"  ! {top.fields[by_block[b]].label}: {m}" for b, m in top.errors.items()]
        unknown = [f"  ! {mrkdwn(str(v))}" for k, v in errors.items() if k not in by_block]
        if not top.todo:  # nothing to ask again: Slack would not show these either
            self.stack.pop()
        return ["The form has errors:\n" + "\n".join(lines + unknown)]

    def _other(self, sent: Sent, calls: Sequence[Call]) -> list[str]:
        """What the bot did besides the views (a DM, a reply), as the session shows it."""
        other = [call for call in calls if call.method not in VIEW_METHODS]
        text = self.link.show(Sent(sent.status, "", sent.elapsed), other) if other else ""
        return [text] if text else []

    def _index_of(self, view_id: str) -> int | None:
        for index, item in enumerate(self.stack):
            if item.view_id == view_id:
                return index
        return None
