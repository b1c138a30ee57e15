"""The daily digest function's service."""

from __future__ import annotations

from skystream.config import Settings
from skystream.services.digest.send import DigestSender, SesMailer, recipients_of
from skystream.wiring import digests, per_settings, users


@per_settings
def digest_sender(cfg: Settings) -> DigestSender:
    return DigestSender(store=digests(), recipients=recipients_of(users()), mailer=SesMailer(),
                        sender=cfg.digest_sender)
