"""The numerical checks of docs/theory.md: each identity computed two ways."""
