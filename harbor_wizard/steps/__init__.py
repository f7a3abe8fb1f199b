"""The plan's steps: each reads its host's state, then changes only what differs."""
