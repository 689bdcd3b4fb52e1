"""The channels a notification can go to: Slack, e-mail over SMTP and a JSON webhook.

Each takes a stored message (`alerts.notice`) and either delivers it or raises; the
outbox turns a raise into a retry later, so a channel never needs to be careful.
"""

from __future__ import annotations

import re
import smtplib
from email.message import EmailMessage
from typing import Any, Final, Protocol

import httpx
from slack_sdk import WebClient

from failtrack_pipeline.config.alerts import (
    ChannelConfig,
    EmailChannel,
    SlackChannel,
    WebhookChannel,
)

_PLACEHOLDER: Final = re.compile(r"\{\{\s*(\w+)\s*\}\}")


class Channel(Protocol):
    def send(self, message: dict[str, Any]) -> None: ...


class SlackSender:
    """`chat.postMessage` through the official SDK, at the configured API base URL."""

    def __init__(self, config: SlackChannel) -> None:
        self._config = config

    def send(self, message: dict[str, Any]) -> None:
        client = WebClient(
            token=self._config.token.get_secret_value(), base_url=self._config.base_url, timeout=10
        )
        client.chat_postMessage(
            channel=self._config.channel, text=f"*{message['title']}*\n{message['text']}"
        )


class EmailSender:
    def __init__(self, config: EmailChannel) -> None:
        self._config = config

    def send(self, message: dict[str, Any]) -> None:
        config = self._config
        mail = EmailMessage()
        mail["Subject"] = message["title"]
        mail["From"] = config.sender
        mail["To"] = ", ".join(config.to)
        mail.set_content(message["text"])
        smtp_class = smtplib.SMTP_SSL if config.ssl else smtplib.SMTP
        with smtp_class(config.host, config.port, timeout=config.timeout_seconds) as smtp:
            if config.starttls:
                smtp.starttls()
            if config.username and config.password:
                smtp.login(config.username, config.password.get_secret_value())
            smtp.send_message(mail)


class WebhookSender:
    """POSTs the template with `{{field}}` placeholders filled in (default: the message)."""

    def __init__(self, config: WebhookChannel) -> None:
        self._config = config

    def send(self, message: dict[str, Any]) -> None:
        config = self._config
        body = message if config.template is None else render(config.template, message)
        headers = {name: value.get_secret_value() for name, value in config.headers.items()}
        response = httpx.post(
            config.url, json=body, headers=headers, timeout=config.timeout_seconds
        )
        response.raise_for_status()


def render(template: Any, message: dict[str, Any]) -> Any:
    """The template with each `{{name}}` in its strings replaced by the message's field
    (a missing or empty one by ""); filled in after parsing, so JSON stays valid."""
    if isinstance(template, str):
        return _PLACEHOLDER.sub(lambda match: str(message.get(match.group(1)) or ""), template)
    if isinstance(template, dict):
        return {key: render(value, message) for key, value in template.items()}
    if isinstance(template, list):
        return [render(value, message) for value in template]
    return template


def build_channel(config: ChannelConfig) -> Channel:
    if isinstance(config, SlackChannel):
        return SlackSender(config)
    if isinstance(config, EmailChannel):
        return EmailSender(config)
    return WebhookSender(config)
