"""The pure model: Scores, Interprets, Outcomes, topologies, inventory and typed values. No I/O here."""
