"""The access log: every read of one patient's data, who, when, what and from where."""
