"""Tower's product: every command, its rules and its replies, independent of any chat platform."""
