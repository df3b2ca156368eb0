"""The tamper-evident audit log: a hash chain in the store, signed checkpoints outside it."""
