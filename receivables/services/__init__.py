"""Money in: every state change, one module per record (customers, methods, intents, sessions, payments)."""
