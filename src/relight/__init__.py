"""relight: rebuild a whole AWS environment in another region from its newest cross-region copies."""

__version__ = "0.1.0"
