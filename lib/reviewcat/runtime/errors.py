"""The one exception type users see as a single-line error."""


class ReviewcatError(Exception):
    """A problem with the user's input or environment.

    Entry points print its message as one line and exit non-zero instead of a traceback, so the
    message itself must name the problem and what to do about it.
    """
