"""slack-sdk clients built from the settings: a Web API client and webhook clients.

The clients make one attempt per call (no slack-sdk retry handlers, which
would sleep in the calling thread): the alert outbox decides when to retry.

Tokens and webhook URLs stay inside ``SecretStr`` until the moment a client is
built, and are registered with the log redactor so that no log line, not even
a traceback from deep inside slack-sdk, can carry them.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.webhook import WebhookClient

from watchdog.config.sections import SlackSettings
from watchdog.errors import PermanentServiceError, TransientServiceError
from watchdog.logs import register_secret


@dataclass
class SlackClients:
    """The Slack clients of one configuration."""

    settings: SlackSettings
    web: WebClient | None = field(init=False, default=None)
    webhooks: dict[str, WebhookClient] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        timeout = int(self.settings.timeout.total_seconds())
        if self.settings.bot_token is not None:
            token = self.settings.bot_token.get_secret_value()
            register_secret(token)
            self.web = WebClient(
                token=token, base_url=self.settings.base_url, timeout=timeout, retry_handlers=[]
            )
        for name, url in self.settings.webhooks.items():
            register_secret(url.get_secret_value())
            self.webhooks[name] = WebhookClient(
                url.get_secret_value(), timeout=timeout, retry_handlers=[]
            )

    def __repr__(self) -> str:
        return (
            f"SlackClients(base_url={self.settings.base_url!r}, bot_token="
            f"{'set' if self.web else 'unset'}, webhooks={sorted(self.webhooks)})"
        )

    def auth_test(self) -> str:
        """Check the bot token with ``auth.test`` and return the team name."""
        if self.web is None:
            raise PermanentServiceError("Slack", "auth.test", "no bot token is configured")
        try:
            response = self.web.auth_test()
        except SlackApiError as exc:
            error = exc.response.get("error", "unknown_error")
            raise PermanentServiceError("Slack", "auth.test", f"Slack answered {error!r}") from exc
        except (SlackClientError, OSError) as exc:
            raise TransientServiceError("Slack", "auth.test", type(exc).__name__) from exc
        return str(response.get("team", ""))
