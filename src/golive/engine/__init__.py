"""The engine: events (past tense), the run state as a fold of them, the run loop, gates,
and the commands people use to steer a run. Writes the event log; everything else reads it."""
