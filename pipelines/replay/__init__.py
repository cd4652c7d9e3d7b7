"""The year replay: 2013 day by day under the frozen, scheduled and guarded policies."""
