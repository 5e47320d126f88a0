"""What the Slack app does with each event, command and button.

- ``app_mention`` in a channel, a direct message, ``/mspilot <question>``: the analyst answers
  as the mapped mspilot user (role and client scope), streamed into the thread; the Slack thread
  is the conversation thread (namespaced by role, so a technician replying in a thread never
  continues an owner's conversation).
- ``/mspilot digest``: this week's insights for the caller (only what their role may see).
- Insight buttons: *Explain* opens an agent thread under the digest, *Snooze 30 days*,
  *Dismiss*, *Wrong* (a modal asks why; the detector's threshold goes up) and *Approve* (pricing:
  resumes the approval graph, which records the action).

Size (~500 lines): the Bolt handlers must be registered on one app object; each is short.
"""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from mspilot.core.errors import MspilotError
from mspilot.core.logging import get_logger
from mspilot.core.settings import Settings
from mspilot.db.audit import AuditRecord
from mspilot.db.users import UserRow
from mspilot.insights import store
from mspilot.insights.digest import build_digest
from mspilot.insights.feedback import approval_flow, give_feedback
from mspilot.insights.model import DETECTORS, detector_of
from mspilot.insights.render import ACTION_IDS, to_slack
from mspilot.prompts.insights import EXPLAIN
from mspilot.slack.answer import stream_answer
from mspilot.slack.blocks import HELP, NOT_LINKED, answer_blocks, clip
from mspilot.slack.users import resolve_user

log = get_logger(__name__)
_MENTION = re.compile(r"<@[A-Z0-9]+(?:\|[^>]*)?>")
WRONG_VIEW = "insight_wrong"
NOTES = {
    "snooze": "😴",
    "dismiss": "🗑️",
    "approve": "✅",
}


def strip_mentions(text: str) -> str:
    return _MENTION.sub("", text or "").strip()


class SlackBridge:
    """Holds the running app's state (engine, agent, clock, audit) for the listeners."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.state: Any = None
        self._flow: Any = None

    def bind(self, state: Any) -> None:
        self.state = state

    @property
    def engine(self) -> Any:
        return self.state.engine

    def today(self) -> Any:
        return self.state.clock.today()

    def flow(self) -> Any:
        if self._flow is None:
            checkpointer = getattr(self.state.agent, "checkpointer", None)
            self._flow = approval_flow(self.engine, checkpointer)
        return self._flow

    async def user(
        self, client: Any, team_id: str | None, slack_user: str | None
    ) -> UserRow | None:
        return await resolve_user(self.engine, client, team_id, slack_user)

    # ---- questions ---------------------------------------------------------------------

    async def ask(
        self,
        client: Any,
        user: UserRow,
        *,
        team_id: str,
        channel: str,
        question: str,
        thread_ts: str | None,
        root: str,
        header: str | None = None,
    ) -> tuple[Any | None, str | None]:
        """Answer ``question`` as ``user`` in ``channel`` (in ``thread_ts`` if given)."""
        state = self.state
        if state.agent is None:
            reason = state.agent_error or "not loaded"
            await client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=f"The analyst is not available ({reason}).",
            )
            return None, None
        verdict = await state.limiter.hit(
            f"chat:{user.id}", state.settings.api.user_chats_per_minute, "chat"
        )
        if not verdict.allowed:
            await client.chat_postMessage(
                channel=channel,
                thread_ts=thread_ts,
                text=f"Rate limit reached: try again in {verdict.retry_after} s.",
            )
            return None, None
        ctx = state.tool_context(user.tenant_id, user.role, user.client_id)
        thread_id = f"slack-{team_id}-{channel}-{root}-{user.role}"
        answer, ts = await stream_answer(
            client,
            state.agent,
            ctx,
            question,
            channel=channel,
            thread_ts=thread_ts,
            thread_id=thread_id,
            header=header,
            interval_s=self.settings.slack.update_interval_s,
        )
        self._audit(user, channel, question, answer)
        return answer, ts

    def _audit(self, user: UserRow, channel: str, question: str, answer: Any | None) -> None:
        calls = answer.tool_calls if answer is not None else []
        self.state.audit.submit(
            AuditRecord(
                tenant_id=user.tenant_id,
                role=user.role,
                action="chat",
                resource=f"slack:{channel}",
                status=200 if answer is not None else 500,
                user_id=user.id,
                client_id=user.client_id,
                question=question,
                tools=[{"name": t.name, "args": t.args, "ok": t.ok, "rows": t.rows} for t in calls],
                rows_out=sum(t.rows for t in calls),
            )
        )

    async def answer_privately(
        self, respond: Any, user: UserRow, channel: str, question: str, header: str | None
    ) -> None:
        """Answer through ``response_url``, visible to the asker only (no streaming)."""
        ctx = self.state.tool_context(user.tenant_id, user.role, user.client_id)
        answer = await self.state.agent.aask(question, ctx, None)
        self._audit(user, channel, question, answer)
        await respond(
            text=clip(answer.answer, 3000),
            blocks=answer_blocks(answer, header),
            response_type="ephemeral",
            replace_original=False,
        )

    async def on_message(self, client: Any, body: dict[str, Any], event: dict[str, Any]) -> None:
        team_id = str(body.get("team_id") or event.get("team") or "")
        channel = str(event["channel"])
        dm = event.get("channel_type") == "im"
        thread_ts = event.get("thread_ts") or (None if dm else event.get("ts"))
        question = strip_mentions(str(event.get("text") or ""))
        user = await self.user(client, team_id, event.get("user"))
        if user is None:
            if dm:
                await client.chat_postMessage(channel=channel, text=NOT_LINKED)
            else:
                await client.chat_postEphemeral(
                    channel=channel, user=event.get("user"), text=NOT_LINKED, thread_ts=thread_ts
                )
            return
        if not question:
            await client.chat_postMessage(channel=channel, thread_ts=thread_ts, text=HELP)
            return
        await self.ask(
            client,
            user,
            team_id=team_id,
            channel=channel,
            question=question,
            thread_ts=thread_ts,
            root=str(thread_ts or "dm"),
        )

    async def on_command(
        self, ack: Any, command: dict[str, Any], client: Any, respond: Any
    ) -> None:
        text = str(command.get("text") or "").strip()
        if not text or text.lower() in ("help", "?"):
            await ack(HELP)
            return
        team_id = str(command.get("team_id") or "")
        user = await self.user(client, team_id, command.get("user_id"))
        if user is None:
            await ack(NOT_LINKED)
            return
        if text.split()[0].lower() == "digest":
            await ack("Building your insights…")
            await self.send_digest_preview(respond, user)
            return
        await ack(f"Looking into it: _{clip(text, 200)}_")
        channel = str(command.get("channel_id"))
        header = f"<@{command.get('user_id')}> asked: {clip(text, 500)}"
        try:
            await self.ask(
                client,
                user,
                team_id=team_id,
                channel=channel,
                question=text,
                thread_ts=None,
                root=f"cmd-{command.get('trigger_id', '')}",
                header=header,
            )
        except SlackApiError as exc:  # e.g. the bot is not in that channel: answer privately
            log.info("slash answer posted privately", error=exc.response.get("error"))
            await self.answer_privately(respond, user, channel, text, header)

    async def send_digest_preview(self, respond: Any, user: UserRow) -> None:
        if not any(user.role in d.audience for d in DETECTORS.values()):
            await respond(text="Insights are for owners, finance and service managers.")
            return

        def build() -> Any:
            return build_digest(
                self.engine,
                user.tenant_id,
                as_of=self.today(),
                data_dir=self.settings.data_dir,
                kind="manual",
                max_items=self.settings.insights.max_items,
            )

        try:
            digest = await asyncio.to_thread(build)
        except MspilotError as exc:
            await respond(text=str(exc))
            return
        digest.items = [i for i in digest.items if user.role in i.audience]
        text, blocks = to_slack(digest)
        await respond(text=text, blocks=blocks, response_type="ephemeral")

    # ---- insight buttons ---------------------------------------------------------------

    async def _who(self, client: Any, body: dict[str, Any]) -> UserRow | None:
        team = (body.get("team") or {}).get("id") or (body.get("user") or {}).get("team_id")
        return await self.user(client, team, (body.get("user") or {}).get("id"))

    @staticmethod
    async def _tell(client: Any, body: dict[str, Any], text: str) -> None:
        channel = (body.get("channel") or {}).get("id")
        uid = (body.get("user") or {}).get("id")
        if channel and uid:
            await client.chat_postEphemeral(channel=channel, user=uid, text=text)

    async def _mark(
        self, client: Any, respond: Any, body: dict[str, Any], block_id: str, note: str
    ) -> None:
        """Replace the buttons of the insight with what was decided."""
        message = body.get("message") or {}
        blocks = [
            b
            if b.get("block_id") != block_id
            else {
                "type": "context",
                "block_id": block_id,
                "elements": [{"type": "mrkdwn", "text": clip(note)}],
            }
            for b in message.get("blocks") or []
        ]
        if (body.get("container") or {}).get("is_ephemeral"):
            if blocks:
                await respond(replace_original=True, text=message.get("text", ""), blocks=blocks)
            else:  # Slack does not send an ephemeral message's blocks back: just say it
                await respond(replace_original=False, response_type="ephemeral", text=note)
            return
        channel = (body.get("channel") or {}).get("id")
        await client.chat_update(
            channel=channel, ts=message.get("ts"), text=message.get("text", ""), blocks=blocks
        )

    async def _apply(
        self, client: Any, body: dict[str, Any], key: str, verdict: str, reason: str | None = None
    ) -> tuple[UserRow, Any] | None:
        """Apply a verdict as the Slack user who gave it; None (and they are told why) if they
        are not linked or their role may not."""
        user = await self._who(client, body)
        if user is None:
            await self._tell(client, body, NOT_LINKED)
            return None
        try:
            result = await asyncio.to_thread(
                give_feedback,
                self.engine,
                user.tenant_id,
                key,
                verdict,
                today=self.today(),
                role=user.role,
                user_id=user.id,
                reason=reason,
                via="slack",
                flow=self.flow() if verdict == "approve" else None,
            )
        except MspilotError as exc:
            await self._tell(client, body, str(exc))
            return None
        return user, result

    async def on_verdict(
        self,
        verdict: str,
        ack: Any,
        body: dict[str, Any],
        action: dict[str, Any],
        client: Any,
        respond: Any,
    ) -> None:
        await ack()
        applied = await self._apply(client, body, str(action.get("value") or ""), verdict)
        if applied is None:
            return
        _user, result = applied
        uid = (body.get("user") or {}).get("id")
        await self._mark(
            client,
            respond,
            body,
            str(action.get("block_id")),
            f"{NOTES[verdict]} {result.message} — <@{uid}>",
        )

    async def on_wrong(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any
    ) -> None:
        await ack()
        key = str(action.get("value") or "")
        meta = {
            "key": key,
            "channel": (body.get("channel") or {}).get("id"),
            "ts": (body.get("message") or {}).get("ts"),
        }
        label = detector_of(key).label if ":" in key else "insight"
        await client.views_open(
            trigger_id=body["trigger_id"],
            view={
                "type": "modal",
                "callback_id": WRONG_VIEW,
                "private_metadata": json.dumps(meta),
                "title": {"type": "plain_text", "text": "What's wrong?"},
                "submit": {"type": "plain_text", "text": "Send"},
                "close": {"type": "plain_text", "text": "Cancel"},
                "blocks": [
                    {
                        "type": "input",
                        "block_id": "reason",
                        "label": {
                            "type": "plain_text",
                            "text": f"Why is this {label.lower()} wrong?",
                        },
                        "element": {
                            "type": "plain_text_input",
                            "action_id": "reason",
                            "multiline": True,
                        },
                    }
                ],
            },
        )

    async def on_wrong_submitted(
        self, ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any
    ) -> None:
        values = ((view.get("state") or {}).get("values") or {}).get("reason") or {}
        reason = str((values.get("reason") or {}).get("value") or "").strip()
        if not reason:
            await ack(response_action="errors", errors={"reason": "Say why it is wrong."})
            return
        await ack()
        meta = json.loads(view.get("private_metadata") or "{}")
        user = await self._who(client, body)
        if user is None:
            return
        try:
            result = await asyncio.to_thread(
                give_feedback,
                self.engine,
                user.tenant_id,
                str(meta.get("key")),
                "wrong",
                today=self.today(),
                role=user.role,
                user_id=user.id,
                reason=reason,
                via="slack",
            )
            who = (body.get("user") or {}).get("id")
            text = f"🎛️ <@{who}> marked it wrong: “{clip(reason, 300)}”. {result.message}"
        except MspilotError as exc:
            text = f"Not recorded: {exc}"
        if meta.get("channel"):
            await client.chat_postMessage(
                channel=meta["channel"], thread_ts=meta.get("ts"), text=text
            )

    async def on_explain(
        self, ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any
    ) -> None:
        await ack()
        key = str(action.get("value") or "")
        applied = await self._apply(client, body, key, "explain")
        if applied is None:
            return
        user, _result = applied
        item = await asyncio.to_thread(store.find_item, self.engine, user.tenant_id, key)
        channel = str((body.get("channel") or {}).get("id"))
        lines = [f"*Explaining:* {item.title}" if item else f"*Explaining:* {key}"]
        if item is not None:
            lines.append(item.body)
            if item.drivers:
                lines.append("Drivers: " + "; ".join(d.text for d in item.drivers))
            if item.evidence:
                lines.append("Evidence: " + ", ".join(item.evidence[:15]))
        template = EXPLAIN.get(detector_of(key).name, "Tell me more about {client}.")
        question = template.format(
            client=(item.client_name if item and item.client_name else "this client"),
            period=(item.data.get("period_start", "") if item else ""),
        )
        if (body.get("container") or {}).get("is_ephemeral"):
            # a digest shown only to this person (/mspilot digest): explain only to them too
            header = clip("\n".join(lines))
            await self.answer_privately(respond, user, channel, question, header)
            return
        thread_ts = (body.get("message") or {}).get("ts")
        posted = await client.chat_postMessage(
            channel=channel, thread_ts=thread_ts, text=clip("\n".join(lines))
        )
        root = str(thread_ts or posted["ts"])
        team_id = str((body.get("team") or {}).get("id") or "")
        await self.ask(
            client,
            user,
            team_id=team_id,
            channel=channel,
            question=question,
            thread_ts=root,
            root=root,
        )


def register(app: AsyncApp, bridge: SlackBridge) -> None:
    """Wire the bridge's handlers into the Bolt app."""

    @app.middleware
    async def skip_retries(req: Any, resp: Any, next_: Any) -> Any:
        # Bolt acks at once, so a retry means Slack missed an ack we sent: never answer twice.
        if req.headers.get("x-slack-retry-num"):
            return BoltResponse(status=200, body="")
        return await next_()

    @app.event("app_mention")
    async def on_mention(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        await bridge.on_message(client, body, event)

    @app.event("message")
    async def on_dm(body: dict[str, Any], event: dict[str, Any], client: Any) -> None:
        if event.get("channel_type") != "im" or event.get("subtype") or event.get("bot_id"):
            return
        await bridge.on_message(client, body, event)

    @app.command(re.compile(r"^/mspilot$"))
    async def on_command(ack: Any, command: dict[str, Any], client: Any, respond: Any) -> None:
        await bridge.on_command(ack, command, client, respond)

    def verdict_listener(verdict: str) -> Any:
        async def on_verdict(
            ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any
        ) -> None:
            await bridge.on_verdict(verdict, ack, body, action, client, respond)

        return on_verdict

    for verdict in ("snooze", "dismiss", "approve"):
        app.action(ACTION_IDS[verdict])(verdict_listener(verdict))

    @app.action(ACTION_IDS["wrong"])
    async def on_wrong(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        await bridge.on_wrong(ack, body, action, client)

    @app.view(WRONG_VIEW)
    async def on_wrong_submitted(
        ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any
    ) -> None:
        await bridge.on_wrong_submitted(ack, body, view, client)

    @app.action(ACTION_IDS["explain"])
    async def on_explain(
        ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any, respond: Any
    ) -> None:
        await bridge.on_explain(ack, body, action, client, respond)
