"""Stream the analyst's answer into Slack: post, update as it streams, finish with Block Kit,
upload charts as images (``files.getUploadURLExternal`` → upload → ``completeUploadExternal``).
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Any

from slack_sdk.errors import SlackApiError

from mspilot.core.logging import get_logger
from mspilot.slack.blocks import answer_blocks, clip, error_blocks, progress_blocks, thinking_blocks

log = get_logger(__name__)


def _chart_specs(answer: Any) -> list[dict[str, Any]]:
    specs = []
    for art in answer.artifacts:
        spec = (art.meta or {}).get("chart")
        if (
            isinstance(spec, dict)
            and spec.get("encoding")
            and (spec.get("data") or {}).get("values")
        ):
            specs.append(spec)
    return specs[:3]


def render_chart(spec: dict[str, Any], out_dir: Path) -> Path | None:
    from mspilot.tools.chart import render_png

    return render_png(spec, out_dir)


async def upload_charts(
    client: Any, answer: Any, *, channel: str, thread_ts: str, out_dir: Path | None = None
) -> int:
    """Upload each chart spec of the answer as a PNG into the thread; returns how many."""
    uploaded = 0
    with tempfile.TemporaryDirectory(prefix="mspilot-slack-") as tmp:
        folder = out_dir or Path(tmp)
        for spec in _chart_specs(answer):
            path = await asyncio.to_thread(render_chart, spec, folder)
            if path is None:
                continue
            try:
                await client.files_upload_v2(
                    channel=channel,
                    thread_ts=thread_ts,
                    file=str(path),
                    filename=path.name,
                    title=str(spec.get("title") or "Chart")[:250],
                )
                uploaded += 1
            except SlackApiError as exc:
                log.warning("chart upload failed", error=exc.response.get("error"))
    return uploaded


async def stream_answer(
    client: Any,
    agent: Any,
    ctx: Any,
    question: str,
    *,
    channel: str,
    thread_ts: str | None,
    thread_id: str,
    header: str | None = None,
    interval_s: float = 1.0,
) -> tuple[Any | None, str]:
    """Post a placeholder, update it while the answer streams, then the final blocks.

    Returns (the agent's answer or None on error, the ts of the answer message)."""
    first = await client.chat_postMessage(
        channel=channel,
        thread_ts=thread_ts,
        text="Thinking…",
        blocks=thinking_blocks(header),
        unfurl_links=False,
    )
    ts = str(first["ts"])
    loop = asyncio.get_running_loop()
    last = loop.time()
    text, shown, status = "", "", None
    answer = None
    try:
        async for event in agent.astream(question, ctx, thread_id):
            if event.type == "token":
                text += event.text
            elif event.type == "tool_start":
                status = f"Running {event.tool}…"
            elif event.type == "tool_end":
                status = f"{event.tool}: {event.rows or 0} rows"
            elif event.type == "final":
                answer = event.answer
                continue
            if loop.time() - last >= interval_s and (text != shown or status):
                await client.chat_update(
                    channel=channel,
                    ts=ts,
                    text=clip(text or status or "Thinking…", 3000),
                    blocks=progress_blocks(header, text, status),
                )
                shown, last = text, loop.time()
    except Exception as exc:  # the person sees what went wrong instead of a spinner
        log.warning("slack answer failed", error=repr(exc))
        message = str(exc) if getattr(exc, "exit_code", None) else "the analyst hit an error"
        await client.chat_update(
            channel=channel, ts=ts, text=message, blocks=error_blocks(header, message)
        )
        return None, ts
    if answer is None:
        await client.chat_update(
            channel=channel,
            ts=ts,
            text="No answer.",
            blocks=error_blocks(header, "No answer came back."),
        )
        return None, ts
    await client.chat_update(
        channel=channel,
        ts=ts,
        text=clip(answer.answer or "—", 3000),
        blocks=answer_blocks(answer, header),
    )
    await upload_charts(client, answer, channel=channel, thread_ts=thread_ts or ts)
    return answer, ts
