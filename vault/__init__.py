"""takusu: entrust single credentials to a remote secretary, audit every read, take access back."""

__version__ = "0.1.0"
