"""The rules. Services take the database session first and keyword-only arguments; they flush, never commit."""
