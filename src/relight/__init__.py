"""relight: rebuild a whole AWS environment in another region from its newest copies."""

__version__ = "0.1.0"
