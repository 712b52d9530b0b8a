"""The README's walk-through, typed into a real `certops console --admin` on a terminal.

`make walkthrough` (or `python -m tests.support.walkthrough`) runs it in a scratch
directory with the console's lab DNS, as a newcomer's `make run` does, and prints what
the terminal showed: the README's transcript is pasted from that output.
tests/test_readme_walkthrough.py runs the same steps and checks that every line the
README shows is really on the screen, so the README cannot drift from the bot.

Each step is a line typed once the screen shows what comes before it. The lines that
depend on the run are resolved from the screen: `{password}` is the PFX password the
latest `/samples` printed, `/click {Label}` clicks the button with that label in the
latest `Buttons:` line (the README shows the number it became).
"""

from __future__ import annotations

import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.support.console_pty import Screen, console_on_terminal

PROMPT = "U0CONSOLE (admin)> "
ENV_HOST = "acme-dev.outsystemsenterprise.com"


@dataclass(frozen=True)
class Step:
    typed: str  # the line a person types (may hold {password} or a /click {Label})
    until: str  # what the screen shows once the bot has answered: then the next step


STEPS: tuple[Step, ...] = (
    # a saved certificate
    Step("/samples", PROMPT),
    Step("/upload samples/valid.pfx", PROMPT),
    Step("/click {Enter the password}", "Password of the key or PFX> "),
    Step("{password}", PROMPT),
    Step("/click {Save}", "Certificate name> "),
    Step("", "Domain> "),
    Step("", "Password of the key or PFX> "),
    Step("{password}", PROMPT),
    # an assignment, with its DNS check
    Step(f"/cert env add dev {ENV_HOST}", PROMPT),
    Step("/cert assign", "Certificate (validated or approved)> "),
    Step("1", "Environment> "),
    Step("1", "Hostname> "),
    Step("", "DNS> "),
    Step("y", PROMPT),
    # the expiry warning, 25 days on
    Step("/time +25d", PROMPT),
    Step("/click {Snooze 7 days}", PROMPT),
    # the renewal: a renewed certificate for the same name, through the warning's Renew
    Step("/samples renewed", PROMPT),
    Step("/click {Renew}", "What do you have?> "),
    Step("2", "Domain> "),
    Step("", "Certificate name> "),
    Step("", "PFX / PKCS#12 file> "),
    Step("renewed/valid.pfx", "PFX password> "),
    Step("{password}", "If it fails> "),
    Step("", PROMPT),
    Step("/time +1h", PROMPT),  # the scheduler's next scan offers the renewal
    Step("/click {Renew now}", PROMPT),
)

_PASSWORD = re.compile(r"PFX password \(valid\.pfx\): (\S+)")
_BUTTONS = re.compile(r"Buttons: (.*)  \(type /click N\)")
_LABEL = re.compile(r"/click \{(.+)\}")


def resolve(typed: str, screen: str) -> str:
    """The line to type, its placeholders filled from what the screen shows so far."""
    if "{password}" in typed:
        passwords = _PASSWORD.findall(screen)
        assert passwords, "no /samples password on the screen yet"
        typed = typed.replace("{password}", passwords[-1])
    label = _LABEL.fullmatch(typed)
    if label:
        rows = _BUTTONS.findall(screen)
        assert rows, "no button on the screen yet"
        buttons = dict(
            (text, number) for number, text in re.findall(r"(\d+)\) (.+?)(?=  \d+\) |$)", rows[-1])
        )
        assert label.group(1) in buttons, f"no {label.group(1)!r} button; {screen[-3000:]}"
        typed = f"/click {buttons[label.group(1)]}"
    return typed


def run_walkthrough(cwd: Path, steps: tuple[Step, ...] = STEPS, **settings: str) -> str:
    """Type `steps` into `certops console --admin` in `cwd`; the whole screen, as shown."""
    settings.setdefault("CERTOPS_DATA_DIR", str(cwd / "data"))
    with console_on_terminal(cwd, "--admin", **settings) as (process, screen):
        screen.wait_for(PROMPT)
        for step in steps:
            type_step(screen, step)
        screen.end()
        assert process.wait(60) == 0, screen.text[-3000:]
    return screen.text


def type_step(screen: Screen, step: Step) -> str:
    """Type one step and read until its answer is on the screen; the text read."""
    screen.type(resolve(step.typed, screen.text))
    return screen.wait_for(step.until)


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="certops-walk-") as scratch:
        text = run_walkthrough(Path(scratch))
    sys.stdout.write(text.replace(scratch, "."))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
