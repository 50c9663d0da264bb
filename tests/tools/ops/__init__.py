"""Operations: status, dead-letter tooling, enqueue by name, metrics."""
