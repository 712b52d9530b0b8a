"""`certops doctor`: small checks of a deployment, each saying what is right or what to fix.

Each check is a plain function that returns `CheckResult`s (`result.py`); `runner.py`
runs them in order, sharing what one learned with the next (the database handle, the
Slack answer) through a `Probe`. The checks never raise: whatever goes wrong is a result
with a fix, so the command prints every item even when the first one fails.
"""

from bot.doctor.result import CheckResult, Status
from bot.doctor.runner import DoctorOptions, run_doctor

__all__ = ["CheckResult", "DoctorOptions", "Status", "run_doctor"]
