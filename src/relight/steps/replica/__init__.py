"""Cross-region replicas of a database (issue 23's `data: replica`): their state in the
recovery region, their promotion at failover, and how far they lag (lag.py)."""
