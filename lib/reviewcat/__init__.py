"""reviewcat: turn a partitioned lake of product reviews into a text classifier."""

__version__ = "0.1.0"
