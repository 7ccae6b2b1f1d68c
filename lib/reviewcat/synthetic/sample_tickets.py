"""Generated support tickets, as a helpdesk exports them: the talk's triage problem, to try on.

One CSV file the way spreadsheet tools and helpdesks write it: a UTF-8 byte order mark, CRLF line
endings, ``;`` between fields, quoted bodies over several lines, a ``Ticket ID``, a ``Subject`` and
a ``Body``, the ``Queue`` the ticket went to, the customer's 1-5 ``Rating`` (empty when they gave
none) and the ``Channel``. Queues share words, as real ones do (a refund is billing and returns),
and queue sizes are uneven, so the model has something to learn. ``--no-label`` leaves the Queue
column out: an export of new tickets, to score. The same seed gives the same file.
"""
from __future__ import annotations

import csv
import logging
import random
from pathlib import Path

from reviewcat.runtime.errors import ReviewcatError
from reviewcat.runtime.publishing import staged_locally

log = logging.getLogger(__name__)

FILE_NAME = "tickets.csv"
DELIMITER = ";"
# Queue -> (share of tickets, subjects, words of its bodies).
QUEUES: dict[str, tuple[float, list[str], list[str]]] = {
    "Billing & Payments": (0.30, ["Charged twice", "Invoice question", "Wrong amount", "Payment failed", "Refund status"],
                           ["invoice", "charged", "card", "payment", "refund", "amount", "bank statement", "receipt",
                            "subscription fee", "billing address", "vat"]),
    "Login / Access": (0.22, ["Cannot log in", "Password reset", "Account locked", "2FA code", "Access denied"],
                       ["password", "login", "sign in", "locked out", "reset link", "two-factor code", "username",
                        "account", "session expired", "verification email"]),
    "Shipping & Delivery": (0.20, ["Where is my order", "Late delivery", "Tracking not updating", "Wrong address",
                                   "Parcel damaged"],
                            ["parcel", "tracking number", "courier", "delivery", "shipped", "warehouse", "address",
                             "package", "arrived damaged", "order"]),
    "Returns & Refunds": (0.15, ["Return request", "Refund not received", "Exchange item", "Return label",
                                 "Faulty product"],
                          ["return", "refund", "exchange", "return label", "faulty", "broken", "warranty", "order",
                           "send it back", "replacement"]),
    "Technical Issue": (0.13, ["App crashes", "Error message", "Sync not working", "Page not loading", "Bug report"],
                        ["app", "crash", "error code", "update", "browser", "sync", "screen", "bug", "version",
                         "android", "iphone", "login"]),
}
_OPENERS = ["Hello,", "Hi team,", "Good morning,", "Dear support,", "", "Hey,"]
_GLUE = ["I have a problem with the {w}.", "The {w} is not right.", "Please check the {w} for me.",
         "Since yesterday the {w} does not work.", "My {w} and the {w2} are a mess.", "What happened to my {w}?",
         "I already asked about the {w} twice.", "Could you look at the {w} and the {w2}?"]
_CLOSERS = ["Thanks", "Regards,\nSam", "Thank you in advance.", "", "Best,\nAlex", "Cheers"]
_CHANNELS = ["email", "chat", "phone", "web form"]


def _ticket(rng: random.Random, queue: str) -> tuple[str, str]:
    _, subjects, words = QUEUES[queue]
    other = rng.choice([q for q in QUEUES if q != queue])
    sentences = []
    for _ in range(rng.randint(1, 3)):
        pool = words if rng.random() < 0.7 else QUEUES[other][2]  # queues share words, as real ones do
        sentences.append(rng.choice(_GLUE).format(w=rng.choice(pool), w2=rng.choice(pool)))
    body = " ".join(sentences)
    if rng.random() < 0.3:
        body = body.replace(". ", ".\n", 1)  # a line break inside the quoted field
    parts = [rng.choice(_OPENERS), body, rng.choice(_CLOSERS)]
    # Customers pick the wrong subject line often enough that the body must be read as well.
    subject = rng.choice(subjects if rng.random() < 0.75 else QUEUES[other][1])
    return subject, "\n".join(p for p in parts if p)


def write_sample_tickets(output_path: str, rows: int, seed: int = 42, overwrite: bool = False,
                         labelled: bool = True) -> Path:
    """``output_path/tickets.csv``: ``rows`` generated tickets, with their queue unless ``labelled``
    is false; returns the file."""
    if "://" in output_path and not output_path.startswith("file://"):
        raise ReviewcatError(f"sample-data writes local folders only, not {output_path}: "
                             "generate locally, then upload (e.g. aws s3 sync)")
    final = Path(output_path.removeprefix("file://")).resolve()
    rng = random.Random(seed)
    queues, shares = list(QUEUES), [QUEUES[q][0] for q in QUEUES]
    header = ["Ticket ID", "Subject", "Body"] + (["Queue"] if labelled else []) + ["Rating", "Channel"]
    with staged_locally(final, overwrite) as staging:
        with (staging / FILE_NAME).open("w", encoding="utf-8-sig", newline="") as out:
            writer = csv.writer(out, delimiter=DELIMITER, lineterminator="\r\n")
            writer.writerow(header)
            for i in range(rows):
                queue = rng.choices(queues, shares)[0]
                subject, body = _ticket(rng, queue)
                rating = "" if rng.random() < 0.25 else str(rng.choice([1, 2, 3, 4, 5, 5, 4]))
                writer.writerow([f"TCK-{seed:03d}-{i:07d}", subject, body] + ([queue] if labelled else [])
                                + [rating, rng.choice(_CHANNELS)])
    log.info("wrote %d %s tickets to %s", rows, "labelled" if labelled else "unlabelled", final / FILE_NAME)
    return final / FILE_NAME
