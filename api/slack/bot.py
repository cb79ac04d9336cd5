"""The bot's work, done lazily after Slack has been acknowledged: investigations followed step by step in a
thread, the report card and chart, answers to questions, re-runs and feedback.

Everything goes through the service layer, as the HTTP API does: investigations via
``investigations.service.create`` + ``Worker.submit`` (stored, resumed and listed the same way), a thread's
questions via ``api.chat.events.answer_events`` (the chat plug point the LLM agent replaces), messages via
``api.chat.service``, verdicts via ``api.feedback.service``.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from sqlalchemy.orm import Session, sessionmaker

from agent.incident import Incident
from agent.report import Report
from api.chat import service as chat
from api.chat.events import ChatTurn, answer_events
from api.chat.models import ErrorEvent, StepEvent, TokenEvent
from api.deps import WarmWorkspace
from api.errors import USER_ERRORS, one_line
from api.feedback import service as feedback
from api.feedback.models import FeedbackIn
from api.incidents import service as incidents
from api.incidents.models import ID_PATTERN
from api.investigations import service as investigations
from api.investigations.chart import render_png
from api.investigations.worker import Worker
from api.slack import blocks, store
from api.slack.answers import HELP, Question, report_answer, topic_of
from tools.settings import Settings

log = logging.getLogger("rca.slack")
WAIT_POLL_S = 5.0          # how often a silent run's row is re-read (the worker may have ended it already)
MAX_FOLLOW_S = 30 * 60.0   # stop following (and say so) after this long
UPDATE_EVERY_S = 1.0       # chat.update at most this often while steps stream in
INCIDENT_ID = re.compile(ID_PATTERN)
MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")


def actor(team_id: str | None, user_id: str | None) -> str:
    """Who asked, as the service records it (created_by, feedback): slack:<team>:<user>."""
    return f"slack:{team_id or '-'}:{user_id or '-'}"


class BotError(Exception):
    """A failure the user should read in the thread (one short line)."""


class SlackBot:
    """Holds the service's warm parts; every public method is one lazy listener's work."""

    def __init__(self, *, settings: Settings, sessions: sessionmaker[Session], worker: Worker,
                 workspace: WarmWorkspace) -> None:
        self.settings = settings
        self.sessions = sessions
        self.worker = worker
        self.workspace = workspace
        self._busy = 0
        self._idle = threading.Condition()

    # -- bookkeeping -------------------------------------------------------------------------------------

    def enter(self) -> None:
        """One more piece of lazy work accepted (counted when queued, not when started)."""
        with self._idle:
            self._busy += 1

    def leave(self) -> None:
        with self._idle:
            self._busy -= 1
            self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no lazy work is running (False on timeout)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout=timeout)

    def report_url(self, investigation_id: str) -> str:
        return f"{self.settings.public_base_url.rstrip('/')}/api/v1/investigations/{investigation_id}"

    def first_delivery(self, key: str | None, note: dict[str, Any]) -> bool:
        """False when this Slack request id was already handled (a retry); requests without an id pass."""
        if not key:
            return True
        with self.sessions() as s:
            return store.claim(session=s, key=key, note=note)

    # -- classifying what was asked ------------------------------------------------------------------------

    def classify(self, text: str) -> tuple[str, str]:
        """("help", ""), ("incident", id), ("missing", id) or ("question", text) for a command or mention."""
        text = MENTION.sub(" ", text).strip()
        if not text or text.lower() in {"help", "-h", "--help", "?"}:
            return "help", ""
        if " " not in text and INCIDENT_ID.match(text):
            with self.sessions() as s:
                if incidents.get(session=s, incident_id=text) is not None:
                    return "incident", text
            if "-" in text:  # looks like an incident id (INC-123), not a one-word question
                return "missing", text
        return "question", text

    def ack_text(self, text: str) -> str:
        """The ephemeral reply to a slash command (within Slack's 3 s): help, a not-found, or 'on it'."""
        kind, value = self.classify(text)
        if kind == "help":
            return HELP
        if kind == "missing":
            return blocks.error_text(f"incident '{value}' not found: file it first (POST /api/v1/incidents) "
                                     "or check the id")
        if kind == "incident":
            return f"Investigating {value}: follow the thread."
        return "Looking into it: the answer will be in a thread."

    # -- posting -------------------------------------------------------------------------------------------

    @staticmethod
    def post(client: WebClient, *, channel: str, text: str, thread_ts: str | None = None,
             blocks_: list[dict[str, Any]] | None = None) -> str:
        resp = client.chat_postMessage(channel=channel, text=text, thread_ts=thread_ts, blocks=blocks_,
                                       unfurl_links=False)
        return str(resp["ts"])

    def say_error(self, client: WebClient, *, channel: str | None, thread_ts: str | None, message: str,
                  respond: Any = None) -> None:
        """Put a failure in the thread; if even that fails, through the slash command's response_url."""
        text = blocks.error_text(message)
        try:
            if channel is None:
                raise BotError("no channel")
            self.post(client, channel=channel, text=text, thread_ts=thread_ts)
        except Exception:  # the thread is unreachable (bot not in the channel, Slack down): last resort
            log.exception("could not post an error to Slack")
            if respond is not None:
                try:
                    respond(text=text, response_type="ephemeral")
                except Exception:
                    log.exception("could not respond through response_url either")

    @contextmanager
    def reporting_errors(self, client: WebClient, *, channel: str | None, thread_ts: str | None,
                         respond: Any = None) -> Iterator[dict[str, str | None]]:
        """Any failure in the block ends as a short message in the thread (never silence)."""
        where: dict[str, str | None] = {"channel": channel, "thread_ts": thread_ts}
        try:
            yield where
        except BotError as err:
            self.say_error(client, channel=where["channel"], thread_ts=where["thread_ts"], message=str(err),
                           respond=respond)
        except SlackApiError as err:
            log.warning("Slack API error: %s", err.response.get("error") if err.response else err)
            self.say_error(client, channel=where["channel"], thread_ts=where["thread_ts"], respond=respond,
                           message=f"Slack refused a message ({err.response.get('error', '?')}); "
                                   "is the bot in this channel?")
        except USER_ERRORS as err:
            self.say_error(client, channel=where["channel"], thread_ts=where["thread_ts"], message=one_line(err),
                           respond=respond)
        except Exception:
            log.exception("Slack handler failed")
            self.say_error(client, channel=where["channel"], thread_ts=where["thread_ts"], respond=respond,
                           message="internal error while handling this request (logged on the rca service)")

    # -- lazy listeners ------------------------------------------------------------------------------------

    def on_command(self, *, body: dict[str, Any], client: WebClient, respond: Any = None) -> None:
        """/rca INC-123 investigates in a new thread; /rca <question> answers in one."""
        if not self.first_delivery(body.get("trigger_id"), {"kind": "command"}):
            return
        team, user, channel = body.get("team_id"), body.get("user_id"), body.get("channel_id")
        kind, value = self.classify(str(body.get("text") or ""))
        if kind in {"help", "missing"}:
            return  # the ack already said it
        with self.reporting_errors(client, channel=channel, thread_ts=None, respond=respond) as where:
            assert channel is not None
            if kind == "incident":
                root = self.post(client, channel=channel, text=f"<@{user}> asked for an investigation of *{value}*")
                where["thread_ts"] = root
                self.investigate_incident(client, team=team, user=user, channel=channel, thread_ts=root,
                                          incident_id=value)
            else:
                asked = blocks.defuse(blocks.clip(value, 500))
                root = self.post(client, channel=channel, text=f"<@{user}> asked: {asked}")
                where["thread_ts"] = root
                self.answer(client, team=team, user=user, channel=channel, thread_ts=root, text=value)

    def on_mention(self, *, body: dict[str, Any], event: dict[str, Any], client: WebClient) -> None:
        """@rca INC-123 investigates in the thread; @rca <question> answers there."""
        if not self.first_delivery(body.get("event_id"), {"kind": "mention"}):
            return
        team, user, channel = body.get("team_id"), event.get("user"), event.get("channel")
        thread_ts = event.get("thread_ts") or event.get("ts")
        with self.reporting_errors(client, channel=channel, thread_ts=thread_ts):
            assert channel is not None and thread_ts is not None
            kind, value = self.classify(str(event.get("text") or ""))
            if kind == "help":
                self.post(client, channel=channel, thread_ts=thread_ts, text=HELP)
            elif kind == "missing":
                raise BotError(f"incident '{value}' not found")
            elif kind == "incident":
                self.investigate_incident(client, team=team, user=user, channel=channel, thread_ts=thread_ts,
                                          incident_id=value)
            else:
                self.answer(client, team=team, user=user, channel=channel, thread_ts=thread_ts, text=value)

    def on_message(self, *, body: dict[str, Any], event: dict[str, Any], client: WebClient,
                   context: dict[str, Any]) -> None:
        """A follow-up in a thread the bot is in continues that thread's chat session; others are ignored."""
        thread_ts, channel = event.get("thread_ts"), event.get("channel")
        if (not thread_ts or not channel or thread_ts == event.get("ts") or event.get("subtype")
                or event.get("bot_id")):
            return
        text = str(event.get("text") or "")
        bot_user = context.get("bot_user_id")
        if bot_user and f"<@{bot_user}" in text:
            return  # the app_mention listener answers it
        team = body.get("team_id")
        sid = store.thread_session_id(team_id=team, channel=channel, thread_ts=thread_ts)
        with self.sessions() as s:
            if store.get_thread(session=s, session_id=sid) is None:
                return  # not a thread the bot started or was asked in
        if not self.first_delivery(body.get("event_id"), {"kind": "message"}):
            return
        with self.reporting_errors(client, channel=channel, thread_ts=thread_ts):
            self.answer(client, team=team, user=event.get("user"), channel=channel, thread_ts=thread_ts, text=text)

    def on_action(self, *, body: dict[str, Any], client: WebClient) -> None:
        """Re-run, correct and wrong buttons on a report card ("wrong" asks for the true cause in a modal)."""
        if not self.first_delivery(body.get("trigger_id"), {"kind": "action"}):
            return
        action = (body.get("actions") or [{}])[0]
        channel = (body.get("channel") or {}).get("id")
        message = body.get("message") or {}
        thread_ts = message.get("thread_ts") or message.get("ts")
        team = (body.get("team") or {}).get("id")
        user = (body.get("user") or {}).get("id")
        with self.reporting_errors(client, channel=channel, thread_ts=thread_ts):
            assert channel is not None and thread_ts is not None
            inv_id = str(action.get("value") or "")
            with self.sessions() as s:
                row = investigations.get(session=s, investigation_id=inv_id)
                if row is None:
                    raise BotError(f"investigation '{inv_id}' not found")
                incident_row = incidents.get(session=s, incident_id=row.incident_id)
                incident = (incidents.to_engine_incident(incident_row) if incident_row is not None
                            else Incident.model_validate(row.request))
                report = row.report
            if action.get("action_id") == blocks.RERUN:
                self.post(client, channel=channel, thread_ts=thread_ts, text=f"<@{user}> asked for a re-run.")
                self.run_investigation(client, team=team, user=user, channel=channel, thread_ts=thread_ts,
                                       incident=incident)
                return
            if report is None:
                raise BotError(f"investigation '{inv_id}' has no conclusion to judge ({row.status})")
            if action.get("action_id") == blocks.WRONG:
                meta = {"investigation_id": inv_id, "channel": channel, "thread_ts": thread_ts}
                client.views_open(trigger_id=str(body.get("trigger_id")),
                                  view=blocks.wrong_modal(Report.model_validate(report), metadata=json.dumps(meta)))
                return
            self.record_verdict(client, team=team, user=user, channel=channel, thread_ts=thread_ts,
                                investigation_id=inv_id, data=FeedbackIn(correct=True, comment="via Slack"))

    @staticmethod
    def verdict_from_view(view: dict[str, Any]) -> FeedbackIn:
        """The "wrong" modal's answers as the API's feedback body (its validation is the API's own)."""
        values = (view.get("state") or {}).get("values") or {}
        true_cause = ((values.get("true_cause") or {}).get("value") or {}).get("value") or None
        comment = ((values.get("comment") or {}).get("value") or {}).get("value") or ""
        return FeedbackIn(correct=False, true_cause=true_cause and true_cause.strip(),
                          comment=f"via Slack. {comment}".strip())

    def on_view_submission(self, *, body: dict[str, Any], client: WebClient) -> None:
        """The "wrong" modal was submitted (the ack already checked it): store the verdict, say so in the thread."""
        view = body.get("view") or {}
        meta = json.loads(view.get("private_metadata") or "{}")
        channel, thread_ts = meta.get("channel"), meta.get("thread_ts")
        try:
            data = self.verdict_from_view(view)
        except ValueError:  # pydantic's ValidationError: the ack put the message on the field; the modal stays
            return
        if not self.first_delivery(f"view:{view.get('id')}:{view.get('hash')}", {"kind": "view"}):
            return
        with self.reporting_errors(client, channel=channel, thread_ts=thread_ts):
            assert channel is not None and thread_ts is not None
            self.record_verdict(client, team=(body.get("team") or {}).get("id"),
                                user=(body.get("user") or {}).get("id"), channel=channel, thread_ts=thread_ts,
                                investigation_id=str(meta.get("investigation_id")), data=data)

    def record_verdict(self, client: WebClient, *, team: str | None, user: str | None, channel: str,
                       thread_ts: str, investigation_id: str, data: FeedbackIn) -> None:
        with self.sessions() as s:
            row = investigations.get(session=s, investigation_id=investigation_id)
            if row is None:
                raise BotError(f"investigation '{investigation_id}' not found")
            fb = feedback.create(session=s, investigation=row, data=data, actor=actor(team, user))
            concluded, true_cause = fb.concluded_cause, fb.true_cause
        verdict = "correct" if data.correct else f"wrong (true cause: `{blocks.esc(true_cause or '')}`)"
        self.post(client, channel=channel, thread_ts=thread_ts,
                  text=f"Recorded: <@{user}> marked `{investigation_id}` ({blocks.esc(concluded or 'no cause')}) "
                       f"{verdict}. "
                       "Thanks: batch evaluation reads this.")

    # -- the work itself -----------------------------------------------------------------------------------

    def investigate_incident(self, client: WebClient, *, team: str | None, user: str | None, channel: str,
                             thread_ts: str, incident_id: str) -> None:
        with self.sessions() as s:
            row = incidents.get(session=s, incident_id=incident_id)
            if row is None:
                raise BotError(f"incident '{incident_id}' not found")
            incident = incidents.to_engine_incident(row)
        self.run_investigation(client, team=team, user=user, channel=channel, thread_ts=thread_ts,
                               incident=incident)

    def run_investigation(self, client: WebClient, *, team: str | None, user: str | None, channel: str,
                          thread_ts: str, incident: Incident) -> None:
        """Queue through the service layer, follow its steps in a progress message, then post the report."""
        who = actor(team, user)
        sid = store.thread_session_id(team_id=team, channel=channel, thread_ts=thread_ts)
        with self.sessions() as s:
            store.open_thread(session=s, session_id=sid, incident_id=incident.id, created_by=who)
            inv = investigations.create(session=s, incident=incident, created_by=who)
            inv_id = inv.id
            chat.add_message(session=s, session_id=sid, role="user", content=f"investigate {incident.id}",
                              investigation_id=inv_id)
        text, blk = blocks.progress_blocks(incident_id=incident.id, investigation_id=inv_id, steps=[], state="queued")
        progress_ts = self.post(client, channel=channel, thread_ts=thread_ts, text=text, blocks_=blk)
        events = self.worker.subscribe(inv_id)
        try:
            self.worker.submit(inv_id)
            status = self.follow(client, channel=channel, progress_ts=progress_ts, incident_id=incident.id,
                                 investigation_id=inv_id, events=events)
        finally:
            self.worker.unsubscribe(inv_id, events)
        with self.sessions() as s:
            row = investigations.get(session=s, investigation_id=inv_id)
            assert row is not None
            status, error, report_json = row.status, row.error, row.report
        if status == "failed" or (status == "done" and report_json is None):
            with self.sessions() as s:
                chat.add_message(session=s, session_id=sid, role="assistant", investigation_id=inv_id,
                                  content=f"investigation failed: {error}")
            raise BotError(f"investigation `{inv_id}` of {incident.id} failed: {error or 'no reason recorded'}")
        if status != "done":
            self.post(client, channel=channel, thread_ts=thread_ts,
                      text=f"Investigation `{inv_id}` is still {status}; the report will be at "
                           f"{self.report_url(inv_id)}")
            return
        self.post_report(client, channel=channel, thread_ts=thread_ts, session_id=sid, investigation_id=inv_id)

    def post_report(self, client: WebClient, *, channel: str, thread_ts: str, session_id: str,
                    investigation_id: str) -> None:
        """The report card of a finished investigation, then its chart, in the thread."""
        with self.sessions() as s:
            row = investigations.get(session=s, investigation_id=investigation_id)
            if row is None or row.report is None:
                raise BotError(f"investigation `{investigation_id}` has no report")
            report, request = Report.model_validate(row.report), row.request
        fallback, card = blocks.report_blocks(report, investigation_id=investigation_id,
                                              report_url=self.report_url(investigation_id))
        self.post(client, channel=channel, thread_ts=thread_ts, text=fallback, blocks_=card)
        with self.sessions() as s:
            chat.add_message(session=s, session_id=session_id, role="assistant", investigation_id=investigation_id,
                             content=f"{fallback}\n\n{report.narrative}")
        self.upload_chart(client, channel=channel, thread_ts=thread_ts, report=report,
                          investigation_id=investigation_id, filters=(request or {}).get("filters") or {})

    def follow(self, client: WebClient, *, channel: str, progress_ts: str, incident_id: str,
               investigation_id: str, events: queue.Queue[tuple[str, Any]]) -> str:
        """Update the progress message as steps finish (throttled); the run's final status."""
        steps: list[str] = []
        shown = 0
        last_update = 0.0
        started = time.monotonic()
        status = "running"
        while time.monotonic() - started < MAX_FOLLOW_S:
            try:
                kind, payload = events.get(timeout=WAIT_POLL_S)
            except queue.Empty:
                with self.sessions() as s:
                    row = investigations.get(session=s, investigation_id=investigation_id)
                    if row is not None and row.status in {"done", "failed"}:
                        status = row.status
                        break
                continue
            if kind == "step":
                steps.append(str(payload))
            elif kind == "end":
                status = str(payload)
                break
            if len(steps) > shown and time.monotonic() - last_update >= UPDATE_EVERY_S:
                self._update(client, channel, progress_ts, incident_id, investigation_id, steps, "running")
                shown, last_update = len(steps), time.monotonic()
        if status == "skipped":  # the worker did not claim it (already running elsewhere, or shutting down)
            with self.sessions() as s:
                row = investigations.get(session=s, investigation_id=investigation_id)
                status = row.status if row is not None else "failed"
        self._update(client, channel, progress_ts, incident_id, investigation_id, steps,
                     status if status in {"done", "failed"} else "running")
        return status

    @staticmethod
    def _update(client: WebClient, channel: str, ts: str, incident_id: str, investigation_id: str,
                steps: list[str], state: str) -> None:
        text, blk = blocks.progress_blocks(incident_id=incident_id, investigation_id=investigation_id,
                                           steps=steps, state=state)
        try:
            client.chat_update(channel=channel, ts=ts, text=text, blocks=blk)
        except SlackApiError as err:  # a missed progress update is not worth failing the run for
            log.warning("chat.update failed: %s", err.response.get("error") if err.response else err)

    def upload_chart(self, client: WebClient, *, channel: str, thread_ts: str, report: Report,
                     investigation_id: str, filters: dict[str, Any]) -> None:
        """The metric chart as an image in the thread (files upload v2); a failure is said, not hidden."""
        try:
            ws = self.workspace.get()
            if report.metric not in ws.catalog.metrics:
                raise BotError(f"metric '{report.metric}' is no longer in the catalog")
            png = render_png(report=report, workspace=ws, filters=filters)
        except (BotError, *USER_ERRORS) as err:  # type: ignore[misc]  # a tuple at run time
            self.post(client, channel=channel, thread_ts=thread_ts,
                      text=blocks.error_text(f"chart unavailable: {one_line(err)}"))
            return
        client.files_upload_v2(channel=channel, thread_ts=thread_ts, file=png,
                               filename=f"{investigation_id}-chart.png",
                               title=f"{report.incident_id}: {report.metric}",
                               alt_txt=f"{report.metric} around the anomaly window, candidate changes marked")

    def answer(self, client: WebClient, *, team: str | None, user: str | None, channel: str, thread_ts: str,
               text: str) -> None:
        """Answer in the thread and keep the exchange in the thread's chat session.

        Look-ups of the report (SQL, alternatives, similar incidents, impact, confidence, segments) are read
        from the thread's latest finished report; anything else is a chat turn through the service's plug point
        (``answer_events``), which runs the investigation first when the thread has none.
        """
        who = actor(team, user)
        sid = store.thread_session_id(team_id=team, channel=channel, thread_ts=thread_ts)
        with self.sessions() as s:
            named = next((t for t in re.findall(r"[A-Za-z0-9][A-Za-z0-9._-]*", text)
                          if "-" in t and incidents.get(session=s, incident_id=t) is not None), None)
            thread = store.open_thread(session=s, session_id=sid, incident_id=named, created_by=who)
            incident_row = incidents.get(session=s, incident_id=thread.incident_id) if thread.incident_id else None
            chat.add_message(session=s, session_id=sid, role="user", content=text)
            if incident_row is None:
                open_rows, _ = incidents.list_(session=s, limit=5, offset=0, status="open")
                reply = report_answer(Question(text=text, incident_id=None, report=None, investigation_id=None,
                                               open_incidents=[(r.id, r.title) for r in open_rows]))
                self.post(client, channel=channel, thread_ts=thread_ts, text=blocks.clip(blocks.esc(reply), 3900))
                chat.add_message(session=s, session_id=sid, role="assistant", content=reply)
                return
            incident = incidents.to_engine_incident(incident_row)
            last_id = chat.last_investigation(session=s, session_id=sid)
            last = investigations.get(session=s, investigation_id=last_id) if last_id else None
            done = last if last is not None and last.status == "done" else investigations.latest_done(
                session=s, incident_id=incident.id)
            report = Report.model_validate(done.report) if done is not None and done.report else None
            done_id = done.id if done is not None else None
            if last is not None and last.status in {"queued", "running"}:
                reply = (f"Investigation `{last.id}` of {incident.id} is still {last.status}; "
                         "ask again when its report is posted.")
                self.post(client, channel=channel, thread_ts=thread_ts, text=blocks.esc(reply))
                chat.add_message(session=s, session_id=sid, role="assistant", content=reply,
                                 investigation_id=last.id)
                return
        if report is not None and topic_of(text) != "cause":
            reply = report_answer(Question(text=text, incident_id=incident.id, report=report,
                                           investigation_id=done_id, open_incidents=[]))
            self.post(client, channel=channel, thread_ts=thread_ts, text=blocks.clip(blocks.esc(reply), 3900))
            with self.sessions() as s:
                chat.add_message(session=s, session_id=sid, role="assistant", content=reply,
                                 investigation_id=done_id)
            return
        self.chat_turn(client, channel=channel, thread_ts=thread_ts, session_id=sid,
                       turn=ChatTurn(incident=incident, question=text, investigation_id=last_id or done_id,
                                     actor=who, sessions=self.sessions, worker=self.worker))

    def chat_turn(self, client: WebClient, *, channel: str, thread_ts: str, session_id: str, turn: ChatTurn) -> None:
        """One chat turn: steps of a new investigation update a progress message; the answer is posted whole."""
        tokens: list[str] = []
        steps: list[str] = []
        inv_id = turn.investigation_id
        progress_ts: str | None = None
        last_update = 0.0
        for event in answer_events(turn):
            if isinstance(event, StepEvent):
                inv_id = event.investigation_id or inv_id
                if inv_id == turn.investigation_id:
                    continue  # reusing a finished run: nothing to follow
                steps.append(event.text)
                if progress_ts is None:
                    text, blk = blocks.progress_blocks(incident_id=turn.incident.id, investigation_id=str(inv_id),
                                                       steps=steps, state="running")
                    progress_ts = self.post(client, channel=channel, thread_ts=thread_ts, text=text, blocks_=blk)
                    last_update = time.monotonic()
                elif time.monotonic() - last_update >= UPDATE_EVERY_S:
                    self._update(client, channel, progress_ts, turn.incident.id, str(inv_id), steps, "running")
                    last_update = time.monotonic()
            elif isinstance(event, TokenEvent):
                tokens.append(event.text)
            elif isinstance(event, ErrorEvent):
                with self.sessions() as s:
                    chat.add_message(session=s, session_id=session_id, role="assistant",
                                     content=f"error: {event.detail}", investigation_id=inv_id)
                if progress_ts is not None:
                    self._update(client, channel, progress_ts, turn.incident.id, str(inv_id), steps, "failed")
                raise BotError(event.detail)
        if progress_ts is not None:
            self._update(client, channel, progress_ts, turn.incident.id, str(inv_id), steps, "done")
        reply = "".join(tokens).strip() or "(no answer)"
        self.post(client, channel=channel, thread_ts=thread_ts, text=blocks.clip(blocks.esc(reply), 3900))
        with self.sessions() as s:
            chat.add_message(session=s, session_id=session_id, role="assistant", content=reply,
                             investigation_id=inv_id)
        if inv_id is not None and inv_id != turn.investigation_id:  # a new run: its card and chart too
            self.post_report(client, channel=channel, thread_ts=thread_ts, session_id=session_id,
                             investigation_id=inv_id)
