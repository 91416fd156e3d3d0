"""Rally AI service: use-case matching, approach and task generation, role matching."""
