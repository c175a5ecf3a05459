"""Provider connectors: one module per provider, registered here.

Adding a provider = one new module with a :class:`~.base.Connector` subclass + one line in
``CONNECTORS``.
"""

from __future__ import annotations

from typing import Any

from .anthropic import AnthropicConnector
from .azure_openai import AzureOpenAIConnector
from .base import Connector, EndpointSpec
from .bedrock import BedrockConnector
from .deepseek import DeepSeekConnector
from .fireworks import FireworksConnector
from .http import HttpClient
from .logfilter import KeyScrubbingFilter
from .openai import OpenAIConnector
from .openrouter import OpenRouterConnector

CONNECTORS: dict[str, type[Connector]] = {
    "openai": OpenAIConnector,
    "anthropic": AnthropicConnector,
    "openrouter": OpenRouterConnector,
    "deepseek": DeepSeekConnector,
    "fireworks": FireworksConnector,
    "bedrock": BedrockConnector,
    "azure_openai": AzureOpenAIConnector,
}


def get_connector(provider: str, base_url: str, api_key: str, **kw: Any) -> Connector:
    """Build the connector for ``provider`` (``"openai"``, ``"anthropic"``).

    ``base_url`` may be empty for the provider's public API; ``kw`` goes to the constructor
    (``client=HttpClient(...)``, OpenAI ``usage_kinds=[...]``, ``settings={...}`` for the
    connectors with ``uses_settings``: Bedrock, Azure OpenAI, Fireworks).
    """
    try:
        cls = CONNECTORS[provider]
    except KeyError:
        known = ", ".join(sorted(CONNECTORS))
        raise ValueError(f"unknown provider {provider!r} (known: {known})") from None
    return cls(base_url, api_key, **kw)


__all__ = [
    "CONNECTORS",
    "AnthropicConnector",
    "AzureOpenAIConnector",
    "BedrockConnector",
    "Connector",
    "DeepSeekConnector",
    "EndpointSpec",
    "FireworksConnector",
    "HttpClient",
    "KeyScrubbingFilter",
    "OpenAIConnector",
    "OpenRouterConnector",
    "get_connector",
]
