"""Configuration: the YAML file of docs/product.md as frozen dataclasses, validated in one pass."""

from __future__ import annotations

from watcher.config.load import load_config, parse_config, parse_listen
from watcher.config.model import (
    AlertmanagerConfig,
    CoinwCouponConfig,
    CoinwInviteeConfig,
    Config,
    ConsoleConfig,
    GlobalConfig,
    HttpConfig,
    InhibitRule,
    ReceiverConfig,
    RouteConfig,
    Secret,
    ServerConfig,
    SlackConfig,
    SourceConfig,
    StorageConfig,
    TradebossAccount,
    TradebossConfig,
    WebhookConfig,
)

__all__ = [
    "AlertmanagerConfig",
    "CoinwCouponConfig",
    "CoinwInviteeConfig",
    "Config",
    "ConsoleConfig",
    "GlobalConfig",
    "HttpConfig",
    "InhibitRule",
    "ReceiverConfig",
    "RouteConfig",
    "Secret",
    "ServerConfig",
    "SlackConfig",
    "SourceConfig",
    "StorageConfig",
    "TradebossAccount",
    "TradebossConfig",
    "WebhookConfig",
    "load_config",
    "parse_config",
    "parse_listen",
]
