"""E-mail backends the claim tests plug in (settings.EMAIL_BACKEND), in-process or in a worker."""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from django.core.mail.backends.base import BaseEmailBackend
from django.core.mail.message import EmailMessage


class FailingBackend(BaseEmailBackend):
    """An SMTP server that refuses everything."""

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        raise ConnectionRefusedError("SMTP says no")


class RecordingBackend(BaseEmailBackend):
    """Writes each message to ``CITYGIS_TEST_MAIL_DIR`` and appends its Message-ID to ``sent.log``.

    While the file ``CITYGIS_TEST_MAIL_DIR/block`` exists, a send first writes ``started`` (the
    Message-ID) and ``hung`` (the process id) and then hangs, as a mail server that accepted the
    connection and never answers: the crash tests kill that worker there.
    """

    def send_messages(self, email_messages: Sequence[EmailMessage]) -> int:
        folder = Path(os.environ["CITYGIS_TEST_MAIL_DIR"])
        for message in email_messages:
            if (folder / "block").exists():
                with (folder / "started").open("a") as started:
                    started.write(message.extra_headers["Message-ID"] + "\n")
                (folder / "hung").write_text(str(os.getpid()))
                while (folder / "block").exists():
                    time.sleep(0.05)
            data = message.message().as_bytes()
            message_id = message.extra_headers["Message-ID"]
            name = message_id.strip("<>").replace("/", "_")
            (folder / f"{name}.eml").write_bytes(data)
            with (folder / "sent.log").open("a") as log:
                log.write(message_id + "\n")
        return len(email_messages)
