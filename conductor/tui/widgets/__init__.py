"""Small widgets that render the view model (conductor.tui.model); none of them reads events."""

from conductor.tui.widgets.conversation import Conversation
from conductor.tui.widgets.logtail import LogTail
from conductor.tui.widgets.rail import StageRail
from conductor.tui.widgets.report import ReportView
from conductor.tui.widgets.status import StatusLine
from conductor.tui.widgets.timeline import Timeline

__all__ = ["Conversation", "LogTail", "ReportView", "StageRail", "StatusLine", "Timeline"]
