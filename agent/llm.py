"""Chat-model providers chosen by ``MSPILOT_LLM__PROVIDER`` (``none`` gives no model)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel

from mspilot.core.errors import ConfigurationError
from mspilot.core.settings import LLMSettings

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"


def openai_model(settings: LLMSettings, *, compatible: bool) -> BaseChatModel:
    """langchain-openai's ChatOpenAI on the Chat Completions API, streaming on."""
    from langchain_openai import ChatOpenAI

    if compatible and not settings.base_url:
        raise ConfigurationError(
            "provider openai-compatible needs MSPILOT_LLM__BASE_URL "
            "(e.g. http://127.0.0.1:8000/v1 for vLLM or llama.cpp's server)"
        )
    key = settings.api_key.get_secret_value() if settings.api_key else None
    if not compatible and not key:
        raise ConfigurationError("provider openai needs MSPILOT_LLM__API_KEY")
    kwargs: dict[str, Any] = {
        "model": settings.model or DEFAULT_OPENAI_MODEL,
        "api_key": key or "unused",
        "temperature": 0,
        "max_retries": 1,
        "timeout": 60,
        "streaming": True,
        "use_responses_api": False,
    }
    if settings.base_url:
        kwargs["base_url"] = settings.base_url
    return ChatOpenAI(**kwargs)


def local_model(settings: LLMSettings, data_dir: Path) -> BaseChatModel:
    from mspilot.agent.local_llm import LocalChatModel
    from mspilot.agent.local_model import resolve_model_path

    path = resolve_model_path(data_dir, settings.model)
    return LocalChatModel(model_path=str(path))


def make_chat_model(settings: LLMSettings, data_dir: Path) -> BaseChatModel | None:
    if settings.provider == "none":
        return None
    if settings.provider == "local":
        return local_model(settings, data_dir)
    return openai_model(settings, compatible=settings.provider == "openai-compatible")
